// What a person does on the pages, step by step, shared by several test files.
// Everything goes through labels, roles and visible text, as a user (or a screen reader)
// finds them, never through CSS selectors of the implementation.

import assert from 'node:assert/strict';
import { assertAccessible, inboxLetters, inboxSms } from './harness.js';

/** Texts of the Bokmål pages the flows look for. */
export const NB = {
  orderLink: 'Bestill aktiveringsbrev',
  registerLink: 'Jeg har fått brevet',
  pidLabel: 'Fødselsnummer eller D-nummer',
  continue: 'Fortsett',
  countryLabel: 'Landskode',
  mobileLabel: 'Mobilnummer',
  orderSubmit: 'Bestill brev',
  receiptTitle: 'Bestillingen er mottatt',
  codeLabel: 'Aktiveringskode',
  chooseTitle: 'Hvordan vil du logge inn?',
  chooseSms: 'Med passord og kode på SMS',
  chooseApp: 'Med Nøkkel-appen (anbefalt)',
  passwordLabel: 'Passord',
  passwordAgainLabel: 'Gjenta passordet',
  otpLabel: 'Kode fra SMS',
  doneTitle: 'Du er registrert',
  passwordTitle: 'Mobilnummer og passord',
  otpTitle: 'Bekreft mobilnummeret',
  mobileInvalid: 'Skriv inn et gyldig mobilnummer.',
  errorSummaryTitle: 'Det er noe som må rettes',
};

/** Orders a letter in Bokmål (one step: the identity number) and stops on the receipt. */
export async function orderLetter(page, baseUrl, { pid, check = assertAccessible }) {
  await page.goto(`${baseUrl}/order?lang=nb`);
  await check(page, 'order-1-pid');
  await page.getByLabel(NB.pidLabel).fill(pid);
  await page.getByRole('button', { name: NB.orderSubmit }).click();
  await page.getByRole('heading', { level: 1, name: NB.receiptTitle }).waitFor();
  await check(page, 'order-3-receipt');
}

/** The activation code of the newest letter for `pid`, as the demo inbox has it. */
export async function letterCode(baseUrl, pid) {
  const letters = (await inboxLetters(baseUrl)).filter((l) => l.pid === pid);
  assert.ok(letters.length > 0, `no letter for ${pid} in the demo inbox`);
  return letters[0].code;
}

/** The 6-digit code of the newest SMS to `e164`. */
export async function smsCode(baseUrl, e164) {
  const messages = (await inboxSms(baseUrl)).filter((m) => m.to === e164);
  assert.ok(messages.length > 0, `no SMS to ${e164} in the demo inbox`);
  messages.sort((a, b) => b.created_at.localeCompare(a.created_at));
  const match = /\b(\d{6})\b/.exec(messages[0].body);
  assert.ok(match, `no 6-digit code in the SMS: ${messages[0].body}`);
  return match[1];
}

/** Types identity number and code on /register and continues. */
export async function enterLetter(page, baseUrl, { pid, code, check = assertAccessible }) {
  await page.goto(`${baseUrl}/register?lang=nb`);
  await check(page, 'register-1-code');
  await page.getByLabel(NB.pidLabel).fill(pid);
  await page.getByLabel(NB.codeLabel, { exact: true }).fill(code);
  await page.getByRole('button', { name: NB.continue }).click();
}

/**
 * On the SMS user's password page: the mobile number the code goes to (country code left
 * at +47 unless `country` is given), then the password twice, and continue.
 */
export async function enterMobileAndPassword(page, { mobile, password, country }) {
  await page.getByRole('heading', { level: 1, name: NB.passwordTitle }).waitFor();
  if (country) await page.getByLabel(NB.countryLabel).selectOption(country);
  await page.getByRole('textbox', { name: NB.mobileLabel }).fill(mobile);
  await page.getByLabel(NB.passwordLabel, { exact: true }).fill(password);
  await page.getByLabel(NB.passwordAgainLabel).fill(password);
  await page.getByRole('button', { name: NB.continue }).click();
}
