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
  /** Logging in with the app is paused at the "server" (a report pauses it). */
  paused: boolean;
  /** New phone: what the old phone answers to the next wait (`waiting` keeps it waiting). */
  transfer: 'waiting' | 'enrolled' | 'refused' | 'expired';
}

export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** A code the fake accepts (its check symbol is not computed: the fake trusts this list). */
export const GOOD_CODE = 'ABCDE-FGHJK-MNPQ7';
/** The passcode the fake's device was set up with. */
export const PASSCODE = '583920';
/** The transfer code the fake's new phone shows, and the one its old phone finds. */
export const TRANSFER_CODE = 'K4R-T2W-Q5B';
/** A well-formed transfer code the fake's server does not know. */
export const UNKNOWN_TRANSFER = '000-000-000';

function symbols(input: string, max: number): string {
  return input
    .toUpperCase()
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1')
    .split('')
    .filter((c) => ALPHABET.includes(c))
    .slice(0, max)
    .join('');
}

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
    transfer: 'waiting',
    paused: false,
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
    deny: ({ report }) => {
      if (report) fake.paused = true;
      return report ? 'reported' : 'denied';
    },
    history: () => fake.history,
    deactivate: ({ passcode }) => {
      if (fake.status.verification === 'passcode' && passcode !== PASSCODE) fail('wrong_passcode');
      fake.status = { enrolled: false, deviceName: null, verification: null, contactDone: false, unlocked: false };
      return fake.status;
    },
    account_status: () => ({ appLoginsPaused: fake.paused }),
    // Like the app: resuming needs the person verified afresh.
    resume_logins: ({ passcode }) => {
      if (fake.status.verification === 'passcode' && passcode !== PASSCODE) fail('wrong_passcode');
      fake.paused = false;
      return { appLoginsPaused: false };
    },
    set_language: () => null,
    format_transfer_code: ({ input }) => symbols(String(input), 9).replace(/(.{3})(?=.)/g, '$1-'),
    transfer_start: ({ deviceName, method }) => {
      fake.status = { ...fake.status, deviceName: String(deviceName), verification: method as DeviceStatus['verification'] };
      const now = Math.floor(Date.now() / 1000);
      return { code: TRANSFER_CODE, expiresAt: now + 600, qrSvg: '<svg xmlns="http://www.w3.org/2000/svg"></svg>' };
    },
    // A long poll: with `wait`, answer only once the old phone has decided.
    transfer_wait: async ({ wait }) => {
      while (Number(wait) > 0 && fake.transfer === 'waiting') await new Promise((r) => setTimeout(r, 10));
      if (fake.transfer !== 'enrolled') return { status: fake.transfer };
      fake.status = { ...fake.status, enrolled: true, unlocked: false, contactDone: true };
      return { status: 'enrolled', device: fake.status };
    },
    transfer_lookup: ({ code }) => {
      const typed = symbols(String(code), 20);
      if (typed.length !== 9) fail('wrong_length');
      if (typed === symbols(UNKNOWN_TRANSFER, 9)) fail('unknown_transfer');
      if (typed !== symbols(TRANSFER_CODE, 9)) fail('typo');
      const now = Math.floor(Date.now() / 1000);
      return { transferId: 't-1', deviceName: "Kari's new phone", platform: 'android', startedAt: now - 60, expiresAt: now + 540 };
    },
    transfer_approve: ({ retire, passcode }) => {
      if (fake.status.verification === 'passcode' && passcode !== PASSCODE) fail('wrong_passcode');
      if (retire) fake.status = { enrolled: false, deviceName: null, verification: null, contactDone: false, unlocked: false };
      return { retired: Boolean(retire), device: fake.status };
    },
    transfer_refuse: () => null,
    push_status: () => ({ enabled: true, state: 'unknown' }),
    push_sync: () => ({ enabled: true, state: 'on' }),
    set_push_enabled: ({ enabled }) => ({ enabled: Boolean(enabled), state: enabled ? 'on' : 'off' }),
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
