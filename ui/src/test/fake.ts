// A scripted stand-in for the Rust commands, over mockIPC. It mirrors the command
// contracts (src-tauri/src/commands.rs); the code rules are simplified but give the same
// error codes, so the screens' handling of each answer is what is tested.
import { mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import type { AppError, DeviceStatus, HistoryItem, LoginRequest } from '../lib/api';

export type Handler = (args: Record<string, unknown>) => unknown;

export interface Fake {
  calls: { cmd: string; args: Record<string, unknown> }[];
  status: DeviceStatus;
  override(cmd: string, handler: Handler): void;
  request: LoginRequest | null;
  history: HistoryItem[];
}

export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** A code the fake accepts (its check symbol is not computed: the fake trusts this list). */
export const GOOD_CODE = 'ABCDE-FGHJK-MNPQ7';
/** The passcode the fake's device was set up with. */
export const PASSCODE = '583920';

function group(input: string): string {
  const symbols = input
    .toUpperCase()
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1')
    .split('')
    .filter((c) => ALPHABET.includes(c))
    .slice(0, 15)
    .join('');
  return symbols.replace(/(.{5})(?=.)/g, '$1-');
}

export function request(overrides: Partial<LoginRequest> = {}): LoginRequest {
  const now = Math.floor(Date.now() / 1000);
  return {
    challengeId: 'c-1',
    service: 'Skatteetaten',
    startedAt: now,
    expiresAt: now + 120,
    browser: 'Firefox',
    os: 'Linux',
    place: 'Oslo',
    choices: [27, 64, 81],
    ...overrides,
  };
}

function fail(code: string, message = code): never {
  throw { code, message } satisfies AppError;
}

export function installFake(start: Partial<DeviceStatus> = {}): Fake {
  mockWindows('main');
  const overrides = new Map<string, Handler>();
  const fake: Fake = {
    calls: [],
    status: { enrolled: false, deviceName: null, verification: null, contactDone: false, unlocked: false, ...start },
    override: (cmd, handler) => overrides.set(cmd, handler),
    request: null,
    history: [],
  };
  const handlers: Record<string, Handler> = {
    app_info: () => ({ version: '0.1.0', developer: false, mock: false, platform: 'linux', serverUrl: null }),
    device_status: () => fake.status,
    format_code: ({ input }) => group(String(input)),
    check_code: ({ input }) => {
      const grouped = group(String(input));
      if (grouped.replace(/-/g, '').length !== 15) fail('wrong_length');
      if (grouped !== GOOD_CODE) fail('typo');
      return { grouped };
    },
    check_pid: ({ input }) => {
      const pid = String(input).trim();
      if (!/^\d+$/.test(pid)) fail('non_digit');
      if (pid.length !== 11) fail('length');
      if (pid !== '14838514058') fail('check_digit');
      return null;
    },
    biometric_status: () => ({ available: false, kind: 'none' }),
    enrol: ({ activation, method }) => {
      const a = activation as { deviceName: string };
      const verification = method as DeviceStatus['verification'];
      fake.status = { ...fake.status, enrolled: true, unlocked: true, deviceName: a.deviceName, verification };
      return fake.status;
    },
    unlock: ({ passcode }) => {
      if (passcode !== PASSCODE) fail('wrong_passcode');
      fake.status = { ...fake.status, unlocked: true };
      return fake.status;
    },
    // Like the app: changing the register or deactivating needs the passcode afresh.
    save_contact: ({ contact, passcode }) => {
      const c = contact as { mobile: string | null; email: string | null };
      if ((c.mobile || c.email) && fake.status.verification === 'passcode' && passcode !== PASSCODE) fail('wrong_passcode');
      fake.status = { ...fake.status, contactDone: true };
      return fake.status;
    },
    // A long poll: with `wait`, answer only once a request exists (as the server does).
    pending_request: async ({ wait }) => {
      while (Number(wait) > 0 && !fake.request) await new Promise((r) => setTimeout(r, 10));
      return fake.request;
    },
    approve: () => 'approved',
    deny: ({ report }) => (report ? 'reported' : 'denied'),
    history: () => fake.history,
    deactivate: ({ passcode }) => {
      if (fake.status.verification === 'passcode' && passcode !== PASSCODE) fail('wrong_passcode');
      fake.status = { enrolled: false, deviceName: null, verification: null, contactDone: false, unlocked: false };
      return fake.status;
    },
    set_language: () => null,
    reset_device: () => {
      fake.status = { enrolled: false, deviceName: null, verification: null, contactDone: false, unlocked: false };
      return fake.status;
    },
  };
  mockIPC(async (cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    fake.calls.push({ cmd, args: a });
    const handler = overrides.get(cmd) ?? handlers[cmd];
    if (!handler) fail('unknown_command', cmd);
    return handler(a);
  });
  return fake;
}

export const READY: Partial<DeviceStatus> = {
  enrolled: true,
  deviceName: 'Test phone',
  verification: 'passcode',
  contactDone: true,
  unlocked: true,
};
