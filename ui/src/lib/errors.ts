// Error code → translation key. Codes come from the Rust commands and the server's
// ApiError codes (docs/PROTOCOL.md); unknown codes get the general message.
import { has, t } from './i18n.svelte';
import type { AppError } from './api';

const PID_CODES = ['length', 'non_digit', 'check_digit', 'impossible_date', 'synthetic_not_allowed'];
const CODE_CODES: Record<string, string> = {
  wrong_length: 'error-code-wrong_length',
  invalid_character: 'error-code-invalid_character',
  typo: 'error-code-typo',
  invalid_code: 'error-code-typo',
  letter_locked: 'error-code-locked',
  letter_expired: 'error-code-expired',
  letter_used: 'error-code-used',
  no_letter: 'error-code-none',
  already_registered: 'error-already-registered',
  rate_limited: 'error-rate-limited',
};

/** The message for an identity-number rule failure. */
export function pidMessage(code: string): string {
  return PID_CODES.includes(code) ? t(`error-pid-${code}`) : t('error-pid-invalid');
}

/** The message for an activation-code failure (rule or server answer). */
export function codeMessage(err: AppError, left?: number): string {
  if (err.code === 'wrong_code') return t('error-code-wrong', { left: left ?? 0 });
  const key = CODE_CODES[err.code];
  return key ? t(key) : general(err);
}

/** A message for any error, preferring `app-error-<code>` when it exists. */
export function general(err: AppError): string {
  const key = `app-error-${err.code}`;
  return has(key) ? t(key) : t('app-error-internal');
}

/** The message for a transfer code the person typed (rule or server answer). An unknown,
 * expired, used or refused code gets one message: the server tells them apart to nobody. */
export function transferCodeMessage(err: AppError): string {
  switch (err.code) {
    case 'wrong_length':
    case 'invalid_character':
      return t(`app-transfer-error-${err.code}`);
    case 'typo':
    case 'invalid_transfer_code':
      return t('app-transfer-error-typo');
    case 'unknown_transfer':
    case 'expired':
      return t('app-error-unknown_transfer');
    default:
      return general(err);
  }
}
