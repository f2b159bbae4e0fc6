// A citizen's whole way in Bokmål: order a letter, read it in the demo inbox, register as
// an SMS user with the code from it. Also the app-user branch. Screenshots of the main
// pages come from here (NOKKEL_TEST_SCREENSHOTS=1).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertAccessible, checkPage, checkPageAtSizes, useNokkel } from '../lib/harness.js';
import { NB, enterLetter, enterMobileAndPassword, letterCode, orderLetter, smsCode } from '../lib/flows.js';

const nokkel = useNokkel();

const INGRID = '14838514058'; // adult, domestic address (assets/demo/README.md)
const SIRI = '30919413820'; // adult, domestic address
const HANNE = '27828313806'; // seeded app user
const GROUPED_CODE = /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/;

test('a person orders a letter, reads it in the inbox and registers as an SMS user', async (t) => {
  const page = await nokkel.newPage(t);
  const base = nokkel.url;
  let code = '';

  await t.test('front page leads to ordering', async () => {
    await page.goto(`${base}/`);
    assert.equal(await page.getAttribute('html', 'lang'), 'nb', 'Accept-Language nb-NO gives Bokmål');
    await page.getByRole('heading', { level: 1, name: 'Kom i gang med Nøkkel' }).waitFor();
    await checkPageAtSizes(page, 'front');
    await page.getByRole('link', { name: NB.orderLink }).click();
  });

  await t.test('one step: the identity number is all it takes', async () => {
    await page.getByRole('heading', { level: 1, name: 'Bestill aktiveringsbrev' }).waitFor();
    const main = await page.getByRole('main').innerText();
    assert.doesNotMatch(main, /Steg \d av \d/, 'ordering has no steps any more');
    assert.match(main, /Har du Nøkkel allerede/, 'people who have Nøkkel may order too');
    assert.equal(await page.getByRole('textbox').count(), 1, 'only the identity number is asked for');
    await checkPageAtSizes(page, 'order-1-pid');
    await page.getByLabel(NB.pidLabel).pressSequentially(INGRID);
    await page.getByRole('button', { name: NB.orderSubmit }).click();
  });

  await t.test('receipt promises a letter without saying whether one is sent', async () => {
    await page.getByRole('heading', { level: 1, name: NB.receiptTitle }).waitFor();
    const main = await page.getByRole('main').innerText();
    assert.match(main, /så lenge bestillingen oppfyller kravene/);
    assert.match(main, /innen 10 virkedager, senest \d{1,2}\.\s\p{L}+\s\d{4}/u);
    assert.match(main, /kontakt brukerstøtte/);
    await checkPage(page, 'order-3-receipt');
    // People who have Nøkkel may order a letter too (to set it up again): the receipt must
    // not name "not having Nøkkel already" as a requirement.
    assert.doesNotMatch(main, /ikke har Nøkkel fra før/, 'the receipt contradicts recovery letters');
  });

  await t.test('the letter is in the demo inbox, with the grouped code and a QR code', async () => {
    await page.getByRole('link', { name: 'Utviklerinnboks' }).click();
    await page.getByRole('heading', { level: 1, name: 'Utviklerinnboks' }).waitFor();
    await checkPage(page, 'dev-letters');
    const row = page.getByRole('row').filter({ hasText: INGRID });
    assert.equal(await row.count(), 1, 'one letter for Ingrid');
    code = (await row.getByRole('cell').nth(1).innerText()).trim();
    assert.match(code, GROUPED_CODE, 'the inbox shows the code in groups of five');
    await row.getByRole('link', { name: /Vis brev/ }).click();

    await page.getByRole('heading', { level: 1, name: 'Din aktiveringskode for Nøkkel' }).waitFor();
    const letter = await page.getByRole('main').innerText();
    assert.ok(letter.includes(code), `the letter shows the code ${code}`);
    assert.match(letter, /Ingrid Sæther/);
    assert.match(letter, /gjelder til og med/);
    assert.ok(letter.includes(`${base}/register`), 'the letter names the page to register on');
    const qr = page.locator('.qr svg');
    assert.equal(await qr.count(), 1, 'the letter carries a QR code as inline SVG');
    const box = await qr.boundingBox();
    assert.ok(box && box.width > 100 && box.height > 100, `QR code is large enough to scan: ${JSON.stringify(box)}`);
    await checkPage(page, 'letter', { sizes: ['desktop'] });
  });

  await t.test('register with the code typed in lower case with spaces', async () => {
    await page.goto(`${base}/`);
    await checkPage(page, 'front', { screenshot: false });
    await page.getByRole('link', { name: NB.registerLink }).click();
    await page.getByRole('heading', { level: 1, name: 'Registrer deg med aktiveringskode' }).waitFor();
    await checkPage(page, 'register-1-code');
    await page.getByLabel(NB.pidLabel).fill(INGRID);
    const sloppy = code.toLowerCase().replaceAll('-', ' ');
    assert.notEqual(sloppy, code);
    await page.getByLabel(NB.codeLabel, { exact: true }).pressSequentially(sloppy);
    await page.getByRole('button', { name: NB.continue }).click();
  });

  await t.test('choose to be an SMS user', async () => {
    await page.getByRole('group', { name: NB.chooseTitle }).waitFor();
    assert.ok(await page.getByRole('radio', { name: NB.chooseApp }).isChecked(), 'the app is the default');
    await checkPage(page, 'register-2-choose');
    await page.getByRole('radio', { name: NB.chooseSms }).check();
    await page.getByRole('button', { name: NB.continue }).click();
  });

  await t.test('give the mobile number (+47 preselected) and set a strong passphrase', async () => {
    await page.getByRole('heading', { level: 1, name: NB.passwordTitle }).waitFor();
    assert.equal(await page.getByText(/Du har allerede Nøkkel/).count(), 0, 'no recovery notice for a new user');
    const group = page.getByRole('group', { name: NB.mobileLabel });
    assert.match(await group.innerText(), /Vi sender en kode til dette nummeret/);
    const country = group.getByLabel(NB.countryLabel);
    assert.equal(await country.inputValue(), '47', '+47 is the default country code');
    assert.match(await country.locator('option:checked').innerText(), /Norge \(\+47\)/);
    const mobile = group.getByRole('textbox', { name: NB.mobileLabel });
    assert.match(await mobile.evaluate((el) => el.getAttribute('aria-describedby')), /mobile-hint/);
    await checkPageAtSizes(page, 'register-3-password');
    await country.selectOption({ label: 'Norge (+47)' });
    await mobile.pressSequentially('412 34 567');
    await page.getByLabel(NB.passwordLabel, { exact: true }).fill('blå fjell ved stille fjord');
    await page.getByLabel(NB.passwordAgainLabel).fill('blå fjell ved stille fjord');
    await page.getByRole('button', { name: NB.continue }).click();
  });

  await t.test('confirm the mobile with the code from the SMS', async () => {
    await page.getByRole('heading', { level: 1, name: 'Bekreft mobilnummeret' }).waitFor();
    const intro = await page.getByRole('main').innerText();
    assert.ok(!intro.includes('41234567'), 'the page shows the mobile number masked');
    await checkPage(page, 'register-4-otp');

    // The person looks at their phone; here: the demo SMS inbox in another tab.
    const phone = await page.context().newPage();
    await phone.goto(`${base}/dev/sms`);
    await phone.getByRole('heading', { level: 1 }).waitFor();
    await checkPage(phone, 'dev-sms');
    const row = phone.getByRole('row').filter({ hasText: '+4741234567' });
    const text = await row.first().innerText();
    const otp = /\b(\d{6})\b/.exec(text)?.[1];
    assert.ok(otp, `an SMS with a 6-digit code in: ${text}`);
    assert.equal(otp, await smsCode(base, '+4741234567'), 'HTML and JSON inbox agree');
    await phone.close();

    await page.getByLabel(NB.otpLabel).pressSequentially(otp);
    await page.getByRole('button', { name: NB.continue }).click();
  });

  await t.test('registered', async () => {
    await page.getByRole('heading', { level: 1, name: NB.doneTitle }).waitFor();
    assert.match(await page.getByRole('main').innerText(), /kontaktregisteret/);
    await checkPage(page, 'register-5-done');
  });

  await t.test('the used letter cannot be used again', async () => {
    await enterLetter(page, base, { pid: INGRID, code });
    await page.getByRole('alert').waitFor();
    const summary = await page.getByRole('alert').innerText();
    assert.match(summary, /allerede/, `a clear message for the used code or existing user: ${summary}`);
    await checkPage(page, 'register-1-code-used', { screenshot: false });
  });
});

test('a person who chooses the app is told to finish in the app', async (t) => {
  const page = await nokkel.newPage(t);
  const base = nokkel.url;
  await orderLetter(page, base, { pid: SIRI });
  const code = await letterCode(base, SIRI);
  await enterLetter(page, base, { pid: SIRI, code });
  await page.getByRole('group', { name: NB.chooseTitle }).waitFor();
  await checkPage(page, 'register-2-choose', { screenshot: false });
  await page.getByRole('radio', { name: NB.chooseApp }).check();
  await page.getByRole('button', { name: NB.continue }).click();
  await page.getByRole('heading', { level: 1, name: 'Fullfør i appen' }).waitFor();
  assert.match(await page.getByRole('main').innerText(), /aktiveringskode/);
  await checkPage(page, 'register-3-app');
});

test('a person who already has Nøkkel orders a recovery letter and registers anew', async (t) => {
  const page = await nokkel.newPage(t);
  const base = nokkel.url;
  await orderLetter(page, base, { pid: HANNE });
  const code = await letterCode(base, HANNE);
  await enterLetter(page, base, { pid: HANNE, code });
  await page.getByRole('group', { name: NB.chooseTitle }).waitFor();
  await checkPage(page, 'register-2-choose', { screenshot: false });
  await page.getByRole('radio', { name: NB.chooseSms }).check();
  await page.getByRole('button', { name: NB.continue }).click();

  await page.getByRole('heading', { level: 1, name: NB.passwordTitle }).waitFor();
  const notice = page.getByText(/Du har allerede Nøkkel\. Registrerer du deg med dette brevet, tas det i bruk på nytt/);
  assert.equal(await notice.count(), 1, 'the recovery notice is shown');
  const above = await notice.evaluate((p) => Boolean(p.compareDocumentPosition(document.querySelector('form')) & Node.DOCUMENT_POSITION_FOLLOWING));
  assert.ok(above, 'the notice comes before the form');
  await checkPageAtSizes(page, 'register-3-password-recovery');

  await enterMobileAndPassword(page, { mobile: '41 00 00 09', password: 'nytt passord etter mistet telefon' });
  await page.getByRole('heading', { level: 1, name: NB.otpTitle }).waitFor();
  await assertAccessible(page, 'register-4-otp recovery');
  await page.getByLabel(NB.otpLabel).fill(await smsCode(base, '+4741000009'));
  await page.getByRole('button', { name: NB.continue }).click();
  await page.getByRole('heading', { level: 1, name: NB.doneTitle }).waitFor();
  await assertAccessible(page, 'register-5-done recovery');
});
