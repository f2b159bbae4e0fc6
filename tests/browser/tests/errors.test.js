// The mistakes people make: a mistyped identity number, a wrong activation code, an
// invalid mobile number (on the SMS user's password page). Each shows the error summary, linked to the field, with focus
// where a keyboard or screen-reader user needs it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertAccessible, checkPage, checkPageAtSizes, useNokkel } from '../lib/harness.js';
import { NB, enterLetter, enterMobileAndPassword, letterCode, orderLetter, smsCode } from '../lib/flows.js';

const nokkel = useNokkel();

const OLA = '02877213709'; // adult, domestic address
const BJORN = '25816013758'; // adult, domestic address

/** The error summary as a user meets it: an alert with a heading and links to fields. */
async function errorSummary(page) {
  const summary = page.getByRole('alert');
  await summary.waitFor();
  const links = summary.getByRole('link');
  return {
    summary,
    text: await summary.innerText(),
    links: await links.evaluateAll((as) => as.map((a) => ({ href: a.getAttribute('href'), text: a.textContent.trim() }))),
  };
}

/** Asserts the field with `id` is marked invalid and described by its error message. */
async function assertFieldInError(page, id, message) {
  const field = page.locator(`#${id}`);
  assert.equal(await field.getAttribute('aria-invalid'), 'true', `#${id} has aria-invalid="true"`);
  const describedBy = (await field.getAttribute('aria-describedby')) ?? '';
  assert.ok(describedBy.split(' ').includes(`${id}-error`), `#${id} is described by its error (${describedBy})`);
  assert.equal((await page.locator(`#${id}-error`).innerText()).trim(), message);
  // The accessible description a screen reader reads out includes the message.
  const description = await field.evaluate((el) =>
    (el.getAttribute('aria-describedby') ?? '')
      .split(' ')
      .map((ref) => document.getElementById(ref)?.textContent.trim())
      .join(' '),
  );
  assert.ok(description.includes(message));
}

test('a mistyped identity number: error summary linked to the field, focus on the summary', async (t) => {
  const page = await nokkel.newPage(t);
  await page.goto(`${nokkel.url}/order?lang=nb`);
  await assertAccessible(page, 'order-1-pid');
  // Last digit wrong: the check digits catch it.
  await page.getByLabel(NB.pidLabel).fill('14838514059');
  await page.getByRole('button', { name: NB.orderSubmit }).click();

  const { summary, text, links } = await errorSummary(page);
  const message = 'Fødselsnummeret er ikke gyldig. Sjekk at du har skrevet det riktig.';
  assert.match(text, new RegExp(NB.errorSummaryTitle));
  assert.deepEqual(links, [{ href: '#pid', text: message }]);
  await assertFieldInError(page, 'pid', message);
  assert.equal(await page.getByLabel(NB.pidLabel).inputValue(), '14838514059', 'what the person typed is kept');
  assert.match(await page.title(), /Bestill aktiveringsbrev/);
  await checkPage(page, 'order-1-pid-error');

  // Focus starts on the summary, so a screen reader reads it and Tab reaches its link.
  assert.ok(await summary.evaluate((el) => el === document.activeElement), 'the error summary has focus after the page loads');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('href')), '#pid');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'pid', 'following the link puts the cursor in the field');

  // Correcting the number moves on.
  await page.getByLabel(NB.pidLabel).fill(OLA);
  await page.getByRole('button', { name: NB.orderSubmit }).click();
  await page.getByRole('heading', { level: 1, name: NB.receiptTitle }).waitFor();
  await assertAccessible(page, 'order-3-receipt');
});

test('too short and non-digit identity numbers get their own messages', async (t) => {
  const page = await nokkel.newPage(t);
  for (const [typed, message] of [
    ['1483851405', 'Fødselsnummeret må ha 11 siffer.'],
    ['1483851405x', 'Fødselsnummeret kan bare inneholde siffer.'],
  ]) {
    await page.goto(`${nokkel.url}/register?lang=nb`);
    await assertAccessible(page, 'register-1-code');
    await page.getByLabel(NB.pidLabel).fill(typed);
    await page.getByLabel(NB.codeLabel, { exact: true }).fill('ABCDE-FGHJK-MNPQ7');
    await page.getByRole('button', { name: NB.continue }).click();
    const { links } = await errorSummary(page);
    assert.deepEqual(links, [{ href: '#pid', text: message }]);
    await assertFieldInError(page, 'pid', message);
    await assertAccessible(page, `register-1-code-error ${typed}`);
  }
});

test('an invalid mobile number is explained on the SMS user\'s password page', async (t) => {
  const page = await nokkel.newPage(t);
  const base = nokkel.url;
  await orderLetter(page, base, { pid: BJORN });
  await enterLetter(page, base, { pid: BJORN, code: await letterCode(base, BJORN) });
  await page.getByRole('group', { name: NB.chooseTitle }).waitFor();
  await assertAccessible(page, 'register-2-choose');
  await page.getByRole('radio', { name: NB.chooseSms }).check();
  await page.getByRole('button', { name: NB.continue }).click();
  await page.getByRole('heading', { level: 1, name: NB.passwordTitle }).waitFor();
  await assertAccessible(page, 'register-3-password');

  await enterMobileAndPassword(page, { mobile: '123', password: 'sju hvite skyer over fjellet' });
  const { summary, links } = await errorSummary(page);
  assert.deepEqual(links, [{ href: '#mobile', text: NB.mobileInvalid }]);
  await assertFieldInError(page, 'mobile', NB.mobileInvalid);
  assert.equal(await page.getByRole('textbox', { name: NB.mobileLabel }).inputValue(), '123', 'what the person typed is kept');
  await checkPageAtSizes(page, 'register-3-password-mobile-error', { sizes: ['phone'] });

  assert.ok(await summary.evaluate((el) => el === document.activeElement), 'the error summary has focus after the page loads');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('href')), '#mobile');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'mobile', 'following the link puts the cursor in the field');

  // Corrected, the code goes to that number.
  await enterMobileAndPassword(page, { mobile: '41 00 00 07', password: 'sju hvite skyer over fjellet' });
  await page.getByRole('heading', { level: 1, name: NB.otpTitle }).waitFor();
  await assertAccessible(page, 'register-4-otp');
  assert.match(await smsCode(base, '+4741000007'), /^\d{6}$/);
});

test('the order API takes only the identity number: an unknown "mobile" field is refused', async () => {
  const order = (body) =>
    fetch(`${nokkel.url}/api/v1/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const refused = await order({ v: 1, pid: OLA, mobile: '91234567' });
  assert.equal(refused.status, 400, 'the old two-field order is rejected');
  const accepted = await order({ v: 1, pid: OLA });
  assert.ok(accepted.ok, `ordering with the identity number alone: HTTP ${accepted.status}`);
});

test('a wrong activation code says how many attempts are left and is not echoed', async (t) => {
  const page = await nokkel.newPage(t);
  const base = nokkel.url;
  await orderLetter(page, base, { pid: OLA });
  await orderLetter(page, base, { pid: BJORN });
  // A well-formed code that belongs to someone else's letter.
  const someoneElses = await letterCode(base, BJORN);
  assert.notEqual(someoneElses, await letterCode(base, OLA));

  await enterLetter(page, base, { pid: OLA, code: someoneElses });
  const { links } = await errorSummary(page);
  const message = 'Fødselsnummeret eller aktiveringskoden er feil. Du har 4 forsøk igjen.';
  assert.deepEqual(links, [{ href: '#code', text: message }]);
  await assertFieldInError(page, 'code', message);
  assert.equal(await page.getByLabel(NB.codeLabel, { exact: true }).inputValue(), '', 'the code is not sent back');
  assert.equal(await page.getByLabel(NB.pidLabel).inputValue(), OLA, 'the identity number is kept');
  await checkPage(page, 'register-1-code-wrong');

  await page.getByLabel(NB.codeLabel, { exact: true }).fill(someoneElses);
  await page.getByRole('button', { name: NB.continue }).click();
  assert.match((await errorSummary(page)).text, /Du har 3 forsøk igjen/);
  await assertAccessible(page, 'register-1-code-wrong-again');
});

test('a typo in the code is caught by its check symbol', async (t) => {
  const page = await nokkel.newPage(t);
  await page.goto(`${nokkel.url}/register?lang=nb`);
  await assertAccessible(page, 'register-1-code');
  await page.getByLabel(NB.pidLabel).fill(OLA);
  // Swap two neighbouring symbols of a real code: the check symbol notices.
  const code = await letterCode(nokkel.url, OLA).catch(() => 'ABCDE-FGHJK-MNPQ7');
  const swapped = code[1] !== code[0] ? code[1] + code[0] + code.slice(2) : code[2] + code[1] + code[0] + code.slice(3);
  await page.getByLabel(NB.codeLabel, { exact: true }).fill(swapped);
  await page.getByRole('button', { name: NB.continue }).click();
  const { links } = await errorSummary(page);
  assert.equal(links.length, 1);
  assert.equal(links[0].href, '#code');
  await assertAccessible(page, 'register-1-code-typo');
});

test('English: the error state reads in English', async (t) => {
  const page = await nokkel.newPage(t, { locale: 'en-GB' });
  await page.goto(`${nokkel.url}/order`);
  assert.equal(await page.getAttribute('html', 'lang'), 'en', 'Accept-Language en-GB gives English');
  await assertAccessible(page, 'order-1-pid en');
  await page.getByLabel('National identity number or D-number').fill('14838514059');
  await page.getByRole('button', { name: 'Order letter' }).click();
  const { text, links } = await errorSummary(page);
  assert.match(text, /There is a problem/);
  assert.deepEqual(links, [{ href: '#pid', text: 'The national identity number is not valid. Check that you typed it correctly.' }]);
  await checkPage(page, 'order-1-pid-error-en');
});

test('a page that does not exist, and a registration step opened out of turn', async (t) => {
  const page = await nokkel.newPage(t);
  const response = await page.goto(`${nokkel.url}/finnes-ikke?lang=nb`);
  assert.equal(response.status(), 404);
  await page.getByRole('heading', { level: 1, name: 'Fant ikke siden' }).waitFor();
  await assertAccessible(page, 'not found');
  await page.getByRole('link', { name: 'Gå til forsiden' }).click();
  await page.getByRole('heading', { level: 1, name: 'Kom i gang med Nøkkel' }).waitFor();
  await assertAccessible(page, 'front');

  // Straight to step 3 without a letter: back to step 1 with a clear message.
  await page.goto(`${nokkel.url}/register/password`);
  const { text, links } = await errorSummary(page);
  assert.match(text, /Økten er utløpt/);
  assert.deepEqual(links.map((l) => l.href), ['#pid']);
  await assertAccessible(page, 'session expired');
});
