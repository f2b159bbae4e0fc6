// Logging in at a service: the demo relying party (/demo) sends the browser to the login
// pages, the person types their identity number and then either approves in the app (here
// the software authenticator `nokkel device`, acting as the phone) by picking the number
// the page shows, or types password and SMS code. Every ending — approved, denied, wrong
// number, cancelled, unknown person — lands on a page with the next step. Also without
// JavaScript, with the keyboard alone, and at 320 px. Screenshots with
// NOKKEL_TEST_SCREENSHOTS=1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { assertAccessible, checkPage, checkPageAtSizes, inboxLetters, useNokkel } from '../lib/harness.js';
import { NB, smsCode } from '../lib/flows.js';

const nokkel = useNokkel();
const run = promisify(execFile);

const INGRID = '14838514058'; // adult, domestic address; enrolled as an app user below
const OLA = '02877213709'; // adult, domestic address; enrolled as an app user below
const LARS = '08907913768'; // seeded SMS user (assets/demo/README.md)
const LARS_PASSWORD = 'demo-passord-2026'; // DEMO_SMS_PASSWORD in crates/nokkel-server/src/demo.rs
const LARS_MOBILE = '+4799999999'; // the seeded SMS users' mobile
const SIRI = '30919413820'; // in the population, but no Nøkkel user on this server
const SERVICE = 'Demodata-tjenesten';

/** Texts of the Bokmål login pages. */
const LOGIN = {
  demoTitle: 'Logg inn på demotjenesten',
  demoButton: 'Logg inn med Nøkkel',
  title: `Logg inn på ${SERVICE}`,
  appTitle: 'Bekreft i Nøkkel-appen',
  numberLabel: 'Velg dette tallet i appen',
  answered: 'Jeg har svart i appen',
  cancel: `Avbryt og gå tilbake til ${SERVICE}`,
  resultTitle: 'Du er logget inn på demotjenesten',
  deniedTitle: 'Innloggingen ble avvist',
  wrongNumberTitle: 'Feil tall',
  retry: 'Prøv igjen',
  backTo: `Tilbake til ${SERVICE}`,
  passwordTitle: 'Logg inn med passord',
  refusedTitle: 'Innloggingen ble ikke fullført',
  forgotPassword: 'Glemt passordet? Bestill et aktiveringsbrev for å lage et nytt.',
};

// ---------------------------------------------------------------- the phone

function deviceEnv() {
  // The CLI, like the server, must not see the test runner's NOKKEL_TEST_* variables.
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('NOKKEL_')));
}

/**
 * Runs `nokkel device --json --state DIR ...args` and returns its exit code and parsed
 * JSON answer (success on stdout, failure `{error: {code, message}}` likewise).
 */
async function device(dir, ...args) {
  const bin = process.env.NOKKEL_TEST_BIN;
  try {
    const { stdout } = await run(bin, ['device', '--json', '--state', dir, ...args], { env: deviceEnv(), timeout: 60_000 });
    return { code: 0, json: JSON.parse(stdout) };
  } catch (err) {
    if (typeof err.code !== 'number') throw err;
    let json = null;
    try {
      json = JSON.parse(err.stdout);
    } catch {
      // not JSON: reported below with stdout and stderr
    }
    return { code: err.code, json, stdout: err.stdout, stderr: err.stderr };
  }
}

async function deviceOk(dir, ...args) {
  const result = await device(dir, ...args);
  assert.equal(result.code, 0, `nokkel device ${args.join(' ')} failed: ${JSON.stringify(result)}`);
  return result.json;
}

// One software authenticator per person, enrolled with a letter ordered through the API.
const phones = new Map();

async function phoneOf(pid) {
  if (phones.has(pid)) return phones.get(pid);
  const base = nokkel.url;
  const ordered = await fetch(`${base}/api/v1/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ v: 1, pid }),
  });
  assert.ok(ordered.ok, `ordering a letter for ${pid}: HTTP ${ordered.status}`);
  const letter = (await inboxLetters(base)).find((l) => l.pid === pid);
  assert.ok(letter, `a letter for ${pid} in the demo inbox`);
  const dir = mkdtempSync(path.join(tmpdir(), 'nokkel-browser-device-'));
  await deviceOk(dir, 'enrol', '--server', base, '--pid', pid, '--code', letter.code, '--name', 'Test phone');
  phones.set(pid, dir);
  return dir;
}

test.after(() => {
  for (const dir of phones.values()) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- the pages

/** From the demo service to the identity number page; both checked with `check`. */
async function startAtDemo(page, { lang = 'nb', check = (p, name) => assertAccessible(p, name) } = {}) {
  await page.goto(`${nokkel.url}/demo?lang=${lang}`);
  await page.getByRole('heading', { level: 1 }).waitFor();
  await check(page, 'demo-rp-start');
  await page.getByRole('button', { name: lang === 'en' ? 'Log in with Nøkkel' : LOGIN.demoButton }).click();
  await page.getByLabel(lang === 'en' ? 'National identity number or D-number' : NB.pidLabel).waitFor();
  assert.equal(new URL(page.url()).pathname, '/login');
  await check(page, 'login-1-pid');
}

/** Types the identity number and continues; for app users, waits for the number page. */
async function typePid(page, pid) {
  await page.getByLabel(NB.pidLabel).fill(pid);
  await page.getByRole('button', { name: NB.continue }).click();
}

/** The two-digit number the page shows, as a person reads it below its label. */
async function shownNumber(page) {
  await page.getByRole('heading', { level: 1, name: LOGIN.appTitle }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/login/app');
  const main = await page.getByRole('main').innerText();
  const match = new RegExp(`${LOGIN.numberLabel}\\s+(\\d{2})\\b`).exec(main);
  assert.ok(match, `the number below "${LOGIN.numberLabel}" in:\n${main}`);
  return Number(match[1]);
}

/** The demo service's result page: the verified claims of the ID token. */
async function claims(page) {
  await page.getByRole('heading', { level: 1, name: LOGIN.resultTitle }).waitFor();
  const table = page.getByRole('table', { name: 'Opplysninger i ID-tokenet' });
  const rows = await table.getByRole('row').evaluateAll((trs) =>
    trs.slice(1).map((tr) => [...tr.children].map((c) => c.textContent.trim())),
  );
  return Object.fromEntries(rows.map(([name, , value]) => [name, value]));
}

// ---------------------------------------------------------------- app approval

test('app login with JavaScript: the page moves on by itself once the phone approves', async (t) => {
  const phone = await phoneOf(INGRID);
  const page = await nokkel.newPage(t);

  await startAtDemo(page, { check: (p, name) => checkPage(p, name, { screenshot: name === 'login-1-pid' }) });
  await page.getByRole('heading', { level: 1, name: LOGIN.title }).waitFor();
  assert.match(await page.getByRole('main').innerText(), /får vite fødselsnummeret ditt/, 'the pid scope is explained');
  await typePid(page, INGRID);

  const number = await shownNumber(page);
  assert.ok(number >= 10 && number <= 99, `a two-digit number: ${number}`);
  assert.match(await page.getByRole('status').innerText(), /Venter på svar fra appen\. Forespørselen gjelder til klokken \d{2}:\d{2}\./);
  await checkPage(page, 'login-2-number');

  // The phone sees the same number among its three choices, and picks it.
  const pending = await deviceOk(phone, 'pending', '--wait', '10');
  assert.equal(pending.service, SERVICE);
  assert.ok(pending.choices.includes(number), `the phone offers ${number}: ${pending.choices}`);
  const answer = await deviceOk(phone, 'approve', '--number', String(number), '--wait', '30');
  assert.equal(answer.service, SERVICE);

  // No click: server-sent events take the page to the service.
  const got = await claims(page);
  assert.equal(new URL(page.url()).pathname, '/demo/callback');
  assert.equal(got.pid, INGRID);
  assert.equal(got.acr, 'nokkel-loa-substantial');
  assert.match(got.amr, /app/);
  assert.ok(got.sub.length > 10, `a pairwise subject: ${got.sub}`);
  await checkPage(page, 'demo-rp-result');
});

test('app login without JavaScript: no timed refresh, the "answered" link waits for the answer', async (t) => {
  const phone = await phoneOf(INGRID);
  const page = await nokkel.newPage(t, { javaScriptEnabled: false });

  await startAtDemo(page);
  await typePid(page, INGRID);
  const number = await shownNumber(page);
  await checkPage(page, 'login-2-number', { screenshot: false });
  // A page that reloads itself every few seconds cannot be read with a screen reader
  // (WCAG 2.2.1, failure F41); the person says when they have answered instead.
  const refresh = await page.evaluate(() => document.querySelectorAll('meta[http-equiv="refresh" i]').length);
  assert.equal(refresh, 0, 'no timed refresh');
  assert.match(await page.getByRole('main').innerText(), /Når du har valgt tallet i appen, trykker du på «Jeg har svart i appen»/);

  // The link is followed before the answer arrives: the server waits for it.
  const asked = page.waitForRequest((request) => new URL(request.url()).pathname === '/login/finish');
  const clicked = page.getByRole('link', { name: LOGIN.answered }).click();
  await asked;
  await deviceOk(phone, 'approve', '--number', String(number), '--wait', '30');
  await clicked;
  const got = await claims(page);
  assert.equal(got.pid, INGRID);
  assert.match(got.amr, /app/);
  await assertAccessible(page, 'demo-rp-result without JavaScript');
});

// ---------------------------------------------------------------- password and SMS code

test('SMS user: password, then the code from the SMS, then the service', async (t) => {
  const page = await nokkel.newPage(t);
  await startAtDemo(page);
  await typePid(page, LARS);

  await page.getByRole('heading', { level: 1, name: LOGIN.passwordTitle }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/login/password');
  await checkPageAtSizes(page, 'login-password');
  assert.equal(await page.getByRole('button', { name: LOGIN.cancel }).count(), 1, 'a way back on the password page');
  const forgot = page.getByRole('link', { name: LOGIN.forgotPassword });
  assert.equal(new URL(await forgot.getAttribute('href'), nokkel.url).pathname, '/order', 'a forgotten password leads to a new letter');
  await page.getByLabel(NB.passwordLabel, { exact: true }).fill('feil passord her');
  await page.getByRole('button', { name: NB.continue }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').innerText(), /Passordet er feil/);
  assert.equal(await page.getByLabel(NB.passwordLabel, { exact: true }).getAttribute('aria-invalid'), 'true');
  await checkPage(page, 'login-password-wrong', { screenshot: false });

  await page.getByLabel(NB.passwordLabel, { exact: true }).fill(LARS_PASSWORD);
  await page.getByRole('button', { name: NB.continue }).click();
  await page.getByLabel(NB.otpLabel).waitFor();
  assert.equal(new URL(page.url()).pathname, '/login/otp');
  const intro = await page.getByRole('main').innerText();
  assert.ok(!intro.includes('99999999'), 'the mobile number is shown masked');
  await checkPage(page, 'login-otp');
  assert.equal(await page.getByRole('button', { name: LOGIN.cancel }).count(), 1, 'a way back on the code page');
  assert.match(intro, /\+47\u00a0\*{5}\u00a0999/, 'the masked number does not wrap');

  await page.getByLabel(NB.otpLabel).fill(await smsCode(nokkel.url, LARS_MOBILE));
  await page.getByRole('button', { name: NB.continue }).click();
  const got = await claims(page);
  assert.equal(got.pid, LARS);
  assert.match(got.amr, /pwd/);
  assert.match(got.amr, /otp/);
  await checkPage(page, 'demo-rp-result', { screenshot: false });
});

// ---------------------------------------------------------------- endings

test('denied in the app: a clear page with the way back to the service', async (t) => {
  const phone = await phoneOf(OLA);
  const page = await nokkel.newPage(t);
  await startAtDemo(page);
  await typePid(page, OLA);
  await shownNumber(page);
  await assertAccessible(page, 'login-2-number');

  await deviceOk(phone, 'deny', '--wait', '30');
  await page.getByRole('heading', { level: 1, name: LOGIN.deniedTitle }).waitFor();
  assert.match(await page.getByRole('main').innerText(), /Du avviste innloggingen i appen\. Ingen er logget inn\./);
  await checkPage(page, 'login-denied');

  await page.getByRole('link', { name: LOGIN.backTo }).click();
  await page.getByRole('heading', { level: 1, name: LOGIN.demoTitle }).waitFor();
  const url = new URL(page.url());
  assert.equal(url.pathname, '/demo/callback');
  assert.equal(url.searchParams.get('error'), 'access_denied');
  assert.match(await page.getByRole('alert').innerText(), new RegExp(LOGIN.refusedTitle));
  await assertAccessible(page, 'demo-rp refused');
});

test('wrong number picked in the app: "Feil tall", and "Prøv igjen" gives a new number', async (t) => {
  const phone = await phoneOf(OLA);
  const page = await nokkel.newPage(t);
  await startAtDemo(page);
  await typePid(page, OLA);
  const number = await shownNumber(page);
  await assertAccessible(page, 'login-2-number');

  const pending = await deviceOk(phone, 'pending', '--wait', '10');
  const wrong = pending.choices.find((n) => n !== number);
  const answer = await device(phone, 'approve', '--number', String(wrong));
  assert.equal(answer.code, 1, `the server refuses the wrong number: ${JSON.stringify(answer)}`);

  await page.getByRole('heading', { level: 1, name: LOGIN.wrongNumberTitle }).waitFor();
  assert.match(await page.getByRole('main').innerText(), /var ikke tallet som ble vist her/);
  await checkPage(page, 'login-wrong-number');
  assert.equal(await page.getByRole('button', { name: LOGIN.cancel }).count(), 1, 'or go back to the service');

  await page.getByRole('button', { name: LOGIN.retry }).click();
  await shownNumber(page);
  await assertAccessible(page, 'login-2-number after retry');
  // The retried login is a new request the phone can answer.
  const again = await deviceOk(phone, 'pending', '--wait', '10');
  assert.notEqual(again.challenge_id, pending.challenge_id, 'retrying starts a new login request');
  await page.getByRole('button', { name: LOGIN.cancel }).click();
  await page.getByRole('heading', { level: 1, name: LOGIN.demoTitle }).waitFor();
  await assertAccessible(page, 'demo-rp cancelled');
});

test('cancel on the number page: back at the service with error=access_denied', async (t) => {
  const phone = await phoneOf(OLA);
  const page = await nokkel.newPage(t);
  await startAtDemo(page);
  await typePid(page, OLA);
  await shownNumber(page);
  await assertAccessible(page, 'login-2-number');

  await page.getByRole('button', { name: LOGIN.cancel }).click();
  await page.getByRole('heading', { level: 1, name: LOGIN.demoTitle }).waitFor();
  const url = new URL(page.url());
  assert.equal(url.pathname, '/demo/callback');
  assert.equal(url.searchParams.get('error'), 'access_denied');
  assert.ok(url.searchParams.get('state'), 'the service gets its state back');
  await assertAccessible(page, 'demo-rp cancelled');

  // The phone has nothing left to answer.
  const left = await device(phone, 'pending');
  assert.equal(left.code, 1);
  assert.equal(left.json?.error?.code, 'nothing_pending');
});

test('unknown or mistyped identity numbers: field error, no login started', async (t) => {
  const page = await nokkel.newPage(t);
  await startAtDemo(page);
  for (const [typed, message] of [
    [SIRI, 'Vi finner ingen Nøkkel-bruker med dette fødselsnummeret.'],
    ['14838514059', 'Fødselsnummeret er ikke gyldig. Sjekk at du har skrevet det riktig.'],
  ]) {
    await typePid(page, typed);
    const summary = page.getByRole('alert');
    await summary.waitFor();
    assert.match(await summary.innerText(), new RegExp(NB.errorSummaryTitle));
    assert.equal(await summary.getByRole('link').getAttribute('href'), '#pid');
    const field = page.getByLabel(NB.pidLabel);
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    assert.equal(await field.inputValue(), typed, 'what the person typed is kept');
    assert.equal((await page.locator('#pid-error').innerText()).trim(), message);
    assert.ok((await field.getAttribute('aria-describedby')).split(' ').includes('pid-error'));
    assert.equal(new URL(page.url()).pathname, '/login');
    await assertAccessible(page, `login-1-pid error ${typed}`);
  }
});

// ---------------------------------------------------------------- keyboard and reflow

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

test('keyboard alone: identity number, then "answered" link and cancel button on the number page', async (t) => {
  const page = await nokkel.newPage(t);
  await startAtDemo(page);
  await tab(page, { tag: 'a', text: 'Gå til hovedinnholdet' });
  await page.keyboard.press('Enter');
  await tab(page, { id: 'pid' });
  await page.keyboard.type(INGRID);
  await page.keyboard.press('Enter');
  await shownNumber(page);
  await assertAccessible(page, 'login-2-number');

  await tab(page, { tag: 'a', text: 'Gå til hovedinnholdet' });
  await page.keyboard.press('Enter');
  await tab(page, { tag: 'a', text: LOGIN.answered });
  await tab(page, { tag: 'button', text: LOGIN.cancel });
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: LOGIN.demoTitle }).waitFor();
  assert.equal(new URL(page.url()).searchParams.get('error'), 'access_denied');
  await assertAccessible(page, 'demo-rp cancelled');
});

const NARROW = { width: 320, height: 640 };

async function assertReflows(page, label) {
  const { scrollWidth, width, sticking } = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const sticking = [];
    for (const el of document.body.querySelectorAll('*')) {
      const rect = el.getBoundingClientRect();
      if (rect.width <= 1 || rect.right <= 0 || getComputedStyle(el).visibility === 'hidden') continue;
      if (rect.right > width + 0.5) sticking.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(rect.right)}`);
    }
    return { scrollWidth: document.documentElement.scrollWidth, width, sticking };
  });
  assert.ok(scrollWidth <= width, `${label}: horizontal scrolling at ${width}px (scrollWidth ${scrollWidth})`);
  assert.deepEqual(sticking, [], `${label}: elements past the right edge at ${width}px`);
}

test('the login pages reflow at 320 CSS px', async (t) => {
  const page = await nokkel.newPage(t, { viewport: NARROW });
  await startAtDemo(page);
  await assertReflows(page, '/login');
  await typePid(page, SIRI);
  await page.getByRole('alert').waitFor();
  await assertAccessible(page, 'login-1-pid error 320');
  await assertReflows(page, '/login with error');
  await typePid(page, INGRID);
  await shownNumber(page);
  await assertAccessible(page, 'login-2-number 320');
  await assertReflows(page, '/login/app');
  await page.getByRole('button', { name: LOGIN.cancel }).click();
  await page.getByRole('heading', { level: 1, name: LOGIN.demoTitle }).waitFor();
  await assertAccessible(page, 'demo-rp cancelled 320');
});

// ---------------------------------------------------------------- English

test('the number page in English', async (t) => {
  const page = await nokkel.newPage(t, { locale: 'en-GB' });
  await startAtDemo(page, { lang: 'en' });
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.getByLabel('National identity number or D-number').fill(INGRID);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { level: 1, name: 'Confirm in the Nøkkel app' }).waitFor();
  assert.match(await page.getByRole('main').innerText(), /\b\d{2}\b/);
  await checkPage(page, 'login-2-number-en', { sizes: ['phone'] });
  await page.getByRole('button', { name: `Cancel and go back to ${SERVICE}` }).click();
  await page.getByRole('heading', { level: 1 }).waitFor();
  await assertAccessible(page, 'demo-rp cancelled en');
});
