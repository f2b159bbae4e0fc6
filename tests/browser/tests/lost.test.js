// Lost phone: the front page's third card leads to /lost, where a person blocks Nøkkel
// with a code sent to the contact register's mobile (and e-mail). The pages answer the same
// for numbers without Nøkkel; a wrong code is explained at the field; after blocking, the
// login is refused with the way on (a new letter). With the keyboard alone, axe at phone
// and desktop size; screenshots with NOKKEL_TEST_SCREENSHOTS=1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertAccessible, checkPage, checkPageAtSizes, inboxSms, useNokkel } from '../lib/harness.js';
import { NB, smsCode } from '../lib/flows.js';

const nokkel = useNokkel();

const LARS = '08907913768'; // seeded SMS user (assets/demo/README.md)
const LARS_MOBILE = '+4799999999'; // the seeded users' mobile in the contact register
const SIRI = '30919413820'; // in the population, but no Nøkkel user on this server

/** Texts of the Bokmål lost-phone pages. */
const LOST = {
  card: 'Mistet telefonen?',
  title: 'Sperr Nøkkel',
  sendCode: 'Send meg en kode',
  codeSent: 'Hvis dette fødselsnummeret har Nøkkel med mobilnummer eller e-postadresse i kontaktregisteret, har vi sendt en kode dit.',
  codeLabel: 'Kode',
  block: 'Sperr Nøkkel',
  wrongCode: 'Koden er feil eller utløpt. Be om en ny kode.',
  doneTitle: 'Nøkkel er sperret',
  orderLink: 'Bestill aktiveringsbrev',
  loginBlocked: 'Nøkkel er sperret for dette fødselsnummeret. Bestill et aktiveringsbrev for å bruke det igjen.',
};

// ---------------------------------------------------------------- helpers

/** What has focus, and whether it is drawn with a visible focus indicator. */
async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    const rect = el.getBoundingClientRect();
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
    const shadow = style.boxShadow !== 'none';
    return {
      tag: el.tagName.toLowerCase(),
      id: el.id,
      href: el.getAttribute('href'),
      text: (el.textContent ?? '').trim(),
      indicator: outline || shadow,
      onScreen: rect.width > 0 && rect.height > 0 && rect.left >= 0 && rect.right <= innerWidth,
    };
  });
}

async function tab(page, expect) {
  await page.keyboard.press('Tab');
  const now = await focused(page);
  for (const [key, value] of Object.entries(expect)) {
    assert.equal(now[key], value, `after Tab, focus ${key}: ${JSON.stringify(now)}`);
  }
  assert.ok(now.indicator, `the focused ${now.tag}#${now.id} "${now.text}" has a visible focus indicator`);
  assert.ok(now.onScreen, `the focused ${now.tag}#${now.id} "${now.text}" is on screen`);
  return now;
}

async function skipToMain(page) {
  await tab(page, { tag: 'a', text: 'Gå til hovedinnholdet' });
  await page.keyboard.press('Enter');
  assert.equal((await focused(page)).id, 'main', 'the skip link moves focus to main');
}

/** Asserts the error summary links to the field `id`, which carries the same message. */
async function assertError(page, id, message) {
  const summary = page.getByRole('alert');
  await summary.waitFor();
  assert.match(await summary.innerText(), new RegExp(NB.errorSummaryTitle));
  const links = await summary.getByRole('link').evaluateAll((as) => as.map((a) => ({ href: a.getAttribute('href'), text: a.textContent.trim() })));
  assert.deepEqual(links, [{ href: `#${id}`, text: message }]);
  const field = page.locator(`#${id}`);
  assert.equal(await field.getAttribute('aria-invalid'), 'true', `#${id} has aria-invalid="true"`);
  assert.ok((await field.getAttribute('aria-describedby')).split(' ').includes(`${id}-error`), `#${id} is described by its error`);
  assert.equal((await page.locator(`#${id}-error`).innerText()).trim(), message);
  assert.ok(await summary.evaluate((el) => el === document.activeElement), 'the error summary has focus after the page loads');
}

/** A 6-digit code that is not `code`. */
function otherThan(code) {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

// ---------------------------------------------------------------- tests

test('a number without Nøkkel gets the same pages, and no SMS is sent', async (t) => {
  const page = await nokkel.newPage(t);
  const smsBefore = (await inboxSms(nokkel.url)).length;

  await page.goto(`${nokkel.url}/?lang=nb`);
  await assertAccessible(page, 'front');
  const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { level: 2, name: LOST.card }) });
  assert.match(await card.innerText(), /Sperr Nøkkel så ingen kan logge inn med det/);
  await card.getByRole('link', { name: LOST.card }).click();

  await page.getByRole('heading', { level: 1, name: LOST.title }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/lost');
  assert.match(await page.title(), /Sperr Nøkkel/);
  assert.match(await page.getByRole('main').innerText(), /Mistet telefonen, eller tror du noen andre kan logge inn som deg\?/);
  await checkPageAtSizes(page, 'lost-1-pid');
  await page.getByLabel(NB.pidLabel).fill(SIRI);
  await page.getByRole('button', { name: LOST.sendCode }).click();

  await page.getByLabel(LOST.codeLabel, { exact: true }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/lost/code');
  await page.getByRole('heading', { level: 1, name: LOST.title }).waitFor();
  assert.ok((await page.getByRole('main').innerText()).includes(LOST.codeSent), 'the same "if ..., we have sent a code" text');
  await checkPageAtSizes(page, 'lost-2-code');
  assert.equal((await inboxSms(nokkel.url)).length, smsBefore, 'no SMS for a number without Nøkkel');

  await page.getByLabel(LOST.codeLabel, { exact: true }).fill('123456');
  await page.getByRole('button', { name: LOST.block }).click();
  await assertError(page, 'code', LOST.wrongCode);
  assert.equal(new URL(page.url()).pathname, '/lost/code');
  await checkPageAtSizes(page, 'lost-2-code-error', { sizes: ['phone'] });
});

test('a mistyped identity number on /lost, and the code page opened out of turn', async (t) => {
  const page = await nokkel.newPage(t, { viewport: { width: 390, height: 844 } });
  await page.goto(`${nokkel.url}/lost?lang=nb`);
  await assertAccessible(page, 'lost-1-pid');
  await page.getByLabel(NB.pidLabel).fill('08907913769');
  await page.getByRole('button', { name: LOST.sendCode }).click();
  await assertError(page, 'pid', 'Fødselsnummeret er ikke gyldig. Sjekk at du har skrevet det riktig.');
  assert.equal(await page.getByLabel(NB.pidLabel).inputValue(), '08907913769', 'what the person typed is kept');
  await checkPageAtSizes(page, 'lost-1-pid-error', { sizes: ['phone'] });

  // Straight to the code page without a started block: back to the number, with a message.
  await page.goto(`${nokkel.url}/lost/code?lang=nb`);
  const summary = page.getByRole('alert');
  await summary.waitFor();
  assert.match(await summary.innerText(), /Økten er utløpt/);
  assert.equal(await page.getByLabel(NB.pidLabel).count(), 1, 'the identity number field to start again');
  await assertAccessible(page, 'lost-1-pid session expired');
});

test('an SMS user blocks Nøkkel with the keyboard alone; the login is refused afterwards', async (t) => {
  const page = await nokkel.newPage(t);
  const base = nokkel.url;

  await t.test('front page card, with the keyboard', async () => {
    await page.goto(`${base}/?lang=nb`);
    await assertAccessible(page, 'front');
    await skipToMain(page);
    await tab(page, { tag: 'a', text: 'Bestill aktiveringsbrev' });
    await tab(page, { tag: 'a', text: 'Jeg har fått brevet' });
    await tab(page, { tag: 'a', text: LOST.card });
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: LOST.title }).waitFor();
    await assertAccessible(page, 'lost-1-pid');
  });

  await t.test('identity number, then "Send meg en kode"', async () => {
    await skipToMain(page);
    await tab(page, { id: 'pid' });
    await page.keyboard.type(LARS);
    await tab(page, { tag: 'button', text: LOST.sendCode });
    await page.keyboard.press('Enter');
    await page.getByLabel(LOST.codeLabel, { exact: true }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/lost/code');
    await assertAccessible(page, 'lost-2-code');
  });

  let code = '';
  await t.test('the code goes by SMS to the contact register\'s mobile', async () => {
    const messages = (await inboxSms(base)).filter((m) => m.to === LARS_MOBILE && /sperre Nøkkel/.test(m.body));
    assert.equal(messages.length, 1, `one block-code SMS to ${LARS_MOBILE}`);
    code = await smsCode(base, LARS_MOBILE);
    assert.ok(messages[0].body.includes(code));
  });

  await t.test('a wrong code: error summary, then the link back to the field', async () => {
    await skipToMain(page);
    await tab(page, { id: 'code' });
    await page.keyboard.type(otherThan(code));
    await tab(page, { tag: 'button', text: LOST.block });
    await page.keyboard.press('Enter');
    await assertError(page, 'code', LOST.wrongCode);
    await assertAccessible(page, 'lost-2-code-error');
    await tab(page, { tag: 'a', href: '#code' });
    await page.keyboard.press('Enter');
    assert.equal((await focused(page)).id, 'code', 'following the link puts the cursor in the field');
  });

  await t.test('the right code blocks Nøkkel', async () => {
    await page.keyboard.type(code);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: LOST.doneTitle }).waitFor();
    const main = await page.getByRole('main').innerText();
    assert.match(main, /Alle enhetene dine er deaktivert/);
    assert.match(main, /bestill et aktiveringsbrev/);
    await checkPageAtSizes(page, 'lost-3-done');
    const order = page.getByRole('link', { name: LOST.orderLink });
    assert.equal(new URL(await order.getAttribute('href'), base).pathname, '/order');
    // The SMS that confirms the block.
    const sms = (await inboxSms(base)).filter((m) => m.to === LARS_MOBILE && /sperret/.test(m.body));
    assert.equal(sms.length, 1, 'an SMS says Nøkkel is blocked');
    await skipToMain(page);
    await tab(page, { tag: 'a', text: LOST.orderLink });
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Bestill aktiveringsbrev' }).waitFor();
    await assertAccessible(page, 'order-1-pid after blocking');
  });

  await t.test('logging in is refused with the way on', async () => {
    await page.goto(`${base}/demo?lang=nb`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await assertAccessible(page, 'demo-rp-start');
    await page.getByRole('button', { name: 'Logg inn med Nøkkel' }).click();
    await page.getByLabel(NB.pidLabel).waitFor();
    await assertAccessible(page, 'login-1-pid');
    await page.getByLabel(NB.pidLabel).fill(LARS);
    await page.getByRole('button', { name: NB.continue }).click();
    await assertError(page, 'pid', LOST.loginBlocked);
    assert.equal(new URL(page.url()).pathname, '/login');
    await checkPage(page, 'login-account-blocked');
  });
});

test('the lost-phone pages in English', async (t) => {
  const page = await nokkel.newPage(t, { locale: 'en-GB' });
  await page.goto(`${nokkel.url}/lost`);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.getByRole('heading', { level: 1 }).waitFor();
  await assertAccessible(page, 'lost-1-pid en');
  await page.getByLabel('National identity number or D-number').fill(SIRI);
  await page.locator('form').getByRole('button').click();
  await page.locator('#code').waitFor();
  await checkPageAtSizes(page, 'lost-2-code-en', { sizes: ['phone'] });
});
