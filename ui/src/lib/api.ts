// Typed calls to the Rust commands (src-tauri/src/commands.rs). Every failure is an
// AppError { code, message }; screens branch on `code` only.
import { invoke } from '@tauri-apps/api/core';

export interface AppError {
  code: string;
  message: string;
}

export type Verification = 'biometric' | 'passcode';
export type Outcome = 'approved' | 'denied' | 'reported';

export interface AppInfo {
  version: string;
  developer: boolean;
  mock: boolean;
  platform: string;
  serverUrl: string | null;
}

export interface DeviceStatus {
  enrolled: boolean;
  deviceName: string | null;
  verification: Verification | null;
  contactDone: boolean;
  unlocked: boolean;
}

/** The person's account at the server: whether logging in with the app is paused (after
 * "this wasn't me" or a suspected copy; also while Nøkkel is blocked). */
export interface AccountStatus {
  appLoginsPaused: boolean;
}

/** What the person typed to activate; checked by check_pid/check_code before it is sent. */
export interface Activation {
  pid: string;
  code: string;
  deviceName: string;
}

export interface BiometricStatus {
  available: boolean;
  kind: 'face' | 'fingerprint' | 'none';
}

export interface LoginRequest {
  challengeId: string;
  service: string;
  startedAt: number;
  expiresAt: number;
  browser: string;
  os: string;
  place: string | null;
  choices: [number, number, number];
}

export interface HistoryItem {
  at: number;
  service: string;
  browser: string;
  os: string;
  place: string | null;
  outcome: string;
}

/** New phone: the code to show the old phone (also as an SVG QR code), and until when. */
export interface TransferCodeView {
  code: string;
  expiresAt: number;
  qrSvg: string;
}

/** New phone: where a started move stands. */
export type TransferProgress =
  | { status: 'waiting' }
  | { status: 'enrolled'; device: DeviceStatus }
  | { status: 'refused' }
  | { status: 'expired' };

/** Old phone: the new phone behind a code, as the server describes it. */
export interface TransferOffer {
  transferId: string;
  deviceName: string;
  platform: string;
  startedAt: number;
  expiresAt: number;
}

/** Old phone: what approving did; `retired` means this phone is no longer registered. */
export interface TransferApproved {
  retired: boolean;
  device: DeviceStatus;
}

/** Push wake-ups: the person's setting, and where they stand (src-tauri/src/push.rs). */
export interface PushStatus {
  enabled: boolean;
  state: 'on' | 'off' | 'refused' | 'unavailable' | 'unknown';
}

/** Why the app registers for pushes: opened (`start`) or the token rotated. */
export type PushTrigger = 'start' | 'token_changed';

/** Turns anything a command threw into an AppError (a broken bridge counts as internal). */
export function asAppError(e: unknown): AppError {
  if (e && typeof e === 'object' && 'code' in e && typeof (e as AppError).code === 'string') {
    const err = e as AppError;
    return { code: err.code, message: String(err.message ?? '') };
  }
  return { code: 'internal', message: String(e) };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw asAppError(e);
  }
}

export const api = {
  appInfo: () => call<AppInfo>('app_info'),
  setServerUrl: (url: string) => call<string>('set_server_url', { url }),
  formatCode: (input: string) => call<string>('format_code', { input }),
  checkCode: (input: string) => call<{ grouped: string }>('check_code', { input }),
  checkPid: (input: string) => call<null>('check_pid', { input }),
  biometricStatus: () => call<BiometricStatus>('biometric_status'),
  deviceStatus: () => call<DeviceStatus>('device_status'),
  enrol: (activation: Activation, method: Verification, passcode?: string) =>
    call<DeviceStatus>('enrol', { activation, method, passcode: passcode ?? null }),
  unlock: (passcode?: string) => call<DeviceStatus>('unlock', { passcode: passcode ?? null }),
  saveContact: (mobile: string | null, email: string | null, passcode?: string) =>
    call<DeviceStatus>('save_contact', { contact: { mobile, email }, passcode: passcode ?? null }),
  pendingRequest: (wait: number) => call<LoginRequest | null>('pending_request', { wait }),
  approve: (challengeId: string, number: number, passcode?: string) =>
    call<Outcome>('approve', { challengeId, number, passcode: passcode ?? null }),
  deny: (challengeId: string, report: boolean) => call<Outcome>('deny', { challengeId, report }),
  history: () => call<HistoryItem[]>('history'),
  deactivate: (passcode?: string) => call<DeviceStatus>('deactivate', { passcode: passcode ?? null }),
  accountStatus: () => call<AccountStatus>('account_status'),
  resumeLogins: (passcode?: string) => call<AccountStatus>('resume_logins', { passcode: passcode ?? null }),
  setLanguage: (lang: string) => call<null>('set_language', { lang }),
  resetDevice: () => call<DeviceStatus>('reset_device'),
  formatTransferCode: (input: string) => call<string>('format_transfer_code', { input }),
  transferStart: (deviceName: string, method: Verification, passcode?: string) =>
    call<TransferCodeView>('transfer_start', { deviceName, method, passcode: passcode ?? null }),
  transferWait: (wait: number) => call<TransferProgress>('transfer_wait', { wait }),
  transferLookup: (code: string) => call<TransferOffer>('transfer_lookup', { code }),
  transferApprove: (transferId: string, retire: boolean, passcode?: string) =>
    call<TransferApproved>('transfer_approve', { transferId, retire, passcode: passcode ?? null }),
  transferRefuse: (transferId: string) => call<null>('transfer_refuse', { transferId }),
  pushStatus: () => call<PushStatus>('push_status'),
  pushSync: (trigger: PushTrigger) => call<PushStatus>('push_sync', { trigger }),
  setPushEnabled: (enabled: boolean) => call<PushStatus>('set_push_enabled', { enabled }),
};

/** Failures the person can fix by trying again later: shown with a "Try again" button. */
export const TRANSIENT = new Set([
  'offline',
  'timeout',
  'server_error',
  'server_unavailable',
  'bad_response',
  'internal',
  'rate_limited',
  'verification_cancelled',
  'biometry_not_recognised',
  'biometry_lockout',
  'biometry_not_enrolled',
]);

/** The key on this device can never be opened again (a biometric change locked it away, or
 * it is missing or damaged): only starting over on this phone helps (screen KeyLost). */
export const KEY_LOST = new Set(['key_invalidated', 'no_device_key', 'key_protection_mismatch', 'vault_corrupt']);

/** Enrolment answers that concern the identity number or the code the person typed. */
export const ACTIVATION_FIELD = new Set([
  'invalid_id_number',
  'invalid_code',
  'wrong_code',
  'no_letter',
  'letter_locked',
  'letter_expired',
  'letter_used',
  'already_registered',
]);

/** Failures meaning the login request is gone. */
export const REQUEST_GONE = new Set(['expired', 'no_pending_challenge', 'challenge_taken', 'session_expired']);

/** Answers about a transfer code the person typed: shown next to the code field. */
export const TRANSFER_CODE_FIELD = new Set([
  'wrong_length',
  'invalid_character',
  'typo',
  'invalid_transfer_code',
  'unknown_transfer',
]);

/** Failures meaning the looked-up transfer can no longer be answered. */
export const TRANSFER_GONE = new Set(['unknown_transfer', 'expired']);
