// A stand-in for the Rust commands inside a plain browser page, so every screen of the
// built UI (ui/dist) can be shown in Chromium: the same contract as src-tauri's commands,
// driven by a JSON scenario. Injected with page.addInitScript(installStub, scenario).
export function installStub(scenario) {
  const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const GOOD = 'K7M2P-Q9RST-VW3XY';
  const group = (input) =>
    String(input)
      .toUpperCase()
      .replace(/O/g, '0')
      .replace(/[IL]/g, '1')
      .split('')
      .filter((c) => ALPHABET.includes(c))
      .slice(0, 15)
      .join('')
      .replace(/(.{5})(?=.)/g, '$1-');
  const fail = (code, message = code) => {
    throw { code, message };
  };
  const now = Math.floor(Date.now() / 1000);
  const READY_AFTER_MOVE = { enrolled: true, deviceName: 'Ny telefon', verification: 'passcode', contactDone: true, unlocked: false };
  const s = {
    status: { enrolled: false, deviceName: null, verification: null, contactDone: false, unlocked: false },
    biometric: { available: false, kind: 'none' },
    developer: false,
    request: null,
    history: [],
    failures: {},
    ...scenario,
  };
  if (s.request) s.request = { startedAt: now - 20, expiresAt: now + 100, ...s.request };
  s.history = s.history.map((h, i) => ({ at: now - 3600 * (i * 7 + 2), ...h }));
  const handlers = {
    app_info: () => ({
      version: '0.1.0',
      developer: s.developer,
      mock: false,
      platform: 'linux',
      serverUrl: s.developer ? 'http://127.0.0.1:8080' : null,
    }),
    device_status: () => s.status,
    format_code: ({ input }) => group(input),
    check_code: ({ input }) => {
      const g = group(input);
      if (g.replace(/-/g, '').length !== 15) fail('wrong_length');
      if (g !== GOOD) fail('typo');
      return { grouped: g };
    },
    check_pid: ({ input }) => {
      const pid = String(input).trim();
      if (!/^\d+$/.test(pid)) fail('non_digit');
      if (pid.length !== 11) fail('length');
      return null;
    },
    biometric_status: () => s.biometric,
    enrol: ({ activation, method }) => {
      s.status = { ...s.status, enrolled: true, unlocked: true, deviceName: activation.deviceName, verification: method };
      return s.status;
    },
    unlock: () => {
      s.status = { ...s.status, unlocked: true };
      return s.status;
    },
    save_contact: () => {
      s.status = { ...s.status, contactDone: true };
      return s.status;
    },
    pending_request: async ({ wait }) => {
      if (!s.request && wait > 0) await new Promise(() => {});
      return s.request;
    },
    approve: () => 'approved',
    deny: ({ report }) => {
      if (report) s.paused = true;
      return report ? 'reported' : 'denied';
    },
    // App logins paused (`paused` in the scenario, or after a report) until resumed.
    account_status: () => ({ appLoginsPaused: Boolean(s.paused) }),
    resume_logins: () => {
      s.paused = false;
      return { appLoginsPaused: false };
    },
    history: () => s.history,
    deactivate: () => s.status,
    set_server_url: ({ url }) => url,
    set_language: () => null,
    format_transfer_code: ({ input }) =>
      String(input)
        .toUpperCase()
        .replace(/O/g, '0')
        .replace(/[IL]/g, '1')
        .split('')
        .filter((c) => ALPHABET.includes(c))
        .slice(0, 9)
        .join('')
        .replace(/(.{3})(?=.)/g, '$1-'),
    // New phone: the code, then (with `transfer` in the scenario) the old phone's answer.
    transfer_start: () => ({ code: '7KQ-M3X-A9D', expiresAt: now + 600, qrSvg: s.qrSvg ?? '' }),
    transfer_wait: async ({ wait }) => {
      if (!s.transfer && wait > 0) await new Promise(() => {});
      if (s.transfer === 'enrolled') return { status: 'enrolled', device: { ...READY_AFTER_MOVE } };
      return { status: s.transfer ?? 'waiting' };
    },
    // Old phone: any code finds the scenario's new phone.
    transfer_lookup: () => ({
      transferId: 't1',
      deviceName: 'Karis nye telefon',
      platform: 'android',
      startedAt: now - 45,
      expiresAt: now + 555,
    }),
    transfer_approve: ({ retire }) => {
      if (retire) s.status = { enrolled: false, deviceName: null, verification: null, contactDone: false, unlocked: false };
      return { retired: Boolean(retire), device: s.status };
    },
    transfer_refuse: () => null,
    reset_device: () => {
      s.status = { enrolled: false, deviceName: null, verification: null, contactDone: false, unlocked: false };
      return s.status;
    },
  };
  window.__TAURI_INTERNALS__ = {
    metadata: { currentWindow: { label: 'main' }, currentWebview: { windowLabel: 'main', label: 'main' } },
    transformCallback: (cb) => {
      const id = Math.floor(Math.random() * 1e9);
      window[`_${id}`] = cb;
      return id;
    },
    invoke: async (cmd, args) => {
      if (s.failures[cmd]) fail(s.failures[cmd].code, s.failures[cmd].message);
      const handler = handlers[cmd];
      if (!handler) fail('unknown_command', cmd);
      return handler(args ?? {});
    },
  };
}
