// Every screen of the app's UI (the built ui/dist) in Chromium at phone size, with the
// Rust commands replaced by a scenario stub (lib/ipc-stub.js): each screen is checked with
// axe-core (WCAG 2.1 A/AA) and, with NOKKEL_TEST_SCREENSHOTS=1, saved as
// docs/screenshots/app-<name>.png (390×844, full page).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { launchBrowser, REPO, SCREENSHOT_DIR } from '../lib/harness.js';
import { installStub } from '../lib/ipc-stub.js';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const DIST = path.join(REPO, 'ui/dist');
const PHONE = { width: 390, height: 844 };
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

let server;
let baseUrl;
let browser;

before(async () => {
  if (!existsSync(path.join(DIST, 'index.html'))) {
    throw new Error('ui/dist is missing. Build the UI: npm run build --prefix ui');
  }
  server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const file = path.join(DIST, url.pathname === '/' ? 'index.html' : url.pathname);
    if (!file.startsWith(DIST) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${server.address().port}`;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

const READY = { enrolled: true, deviceName: 'Karis telefon', verification: 'passcode', contactDone: true, unlocked: true };
const REQUEST = {
  challengeId: 'c1',
  service: 'Skatteetaten',
  browser: 'Firefox',
  os: 'Windows',
  place: 'Oslo',
  choices: [27, 64, 81],
};
const HISTORY = [
  { service: 'Skatteetaten', browser: 'Firefox', os: 'Windows', place: 'Oslo', outcome: 'approved' },
  { service: 'NAV', browser: 'Safari', os: 'iOS', place: null, outcome: 'reported' },
  { service: 'Helsenorge', browser: 'Chrome', os: 'Android', place: 'Bergen', outcome: 'expired' },
  { service: 'Lånekassen', browser: 'Edge', os: 'Windows', place: 'Trondheim', outcome: 'wrong_number' },
];

// The QR code of 7KQ-M3X-A9D as transfer_start renders it (qrcode crate, EC level L).
const QR_SVG = readFileSync(path.join(REPO, 'tests/app/lib/transfer-qr.svg'), 'utf8');

async function open(scenario, locale = 'nb-NO') {
  const context = await browser.newContext({ viewport: PHONE, locale });
  await context.addInitScript(installStub, scenario);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  await page.goto(baseUrl);
  return { page, context, problems };
}

const h1 = (page, name) => page.getByRole('heading', { level: 1, name }).waitFor();

async function check(page, name) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  const violations = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(', ')})`);
  assert.deepEqual(violations, [], `${name}: axe found WCAG 2.1 AA violations`);
  if (process.env.NOKKEL_TEST_SCREENSHOTS === '1') {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    // Let the focus ring and fonts settle.
    await page.waitForTimeout(150);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `app-${name}.png`), fullPage: true });
  }
}

async function enrolForm(page) {
  await h1(page, 'Velkommen til Nøkkel');
  await page.getByRole('button', { name: 'Aktiver appen' }).click();
  await h1(page, 'Aktiver appen');
}

const SHOTS = {
  welcome: [{}, async (page) => h1(page, 'Velkommen til Nøkkel')],
  enrol: [{}, enrolForm],
  'enrol-typo': [
    {},
    async (page) => {
      await enrolForm(page);
      await page.getByLabel('Fødselsnummer eller D-nummer').fill('02877213709');
      await page.getByLabel('Aktiveringskode').pressSequentially('k7m2pq9rstvw3xz');
      await page.locator('#code-error').waitFor();
    },
  ],
  'enrol-errors': [
    {},
    async (page) => {
      await enrolForm(page);
      await page.getByLabel('Fødselsnummer eller D-nummer').fill('0287721370');
      await page.getByRole('button', { name: 'Fortsett' }).click();
      await page.getByRole('heading', { name: 'Det er noe som må rettes' }).waitFor();
    },
  ],
  'enrol-wrong-code': [
    { failures: { enrol: { code: 'wrong_code', message: 'wrong activation code; 4 attempts left before the letter locks' } } },
    async (page) => {
      await enrolForm(page);
      await page.getByLabel('Fødselsnummer eller D-nummer').fill('02877213709');
      await page.getByLabel('Aktiveringskode').pressSequentially('K7M2PQ9RSTVW3XY');
      await page.getByRole('button', { name: 'Fortsett' }).click();
      await page.getByLabel('Kode', { exact: true }).fill('583920');
      await page.getByLabel('Gjenta koden').fill('583920');
      await page.getByRole('button', { name: 'Lagre koden' }).click();
      await page.locator('#code-error').waitFor();
    },
  ],
  'setup-passcode': [
    {},
    async (page) => {
      await enrolForm(page);
      await page.getByLabel('Fødselsnummer eller D-nummer').fill('02877213709');
      await page.getByLabel('Aktiveringskode').pressSequentially('K7M2PQ9RSTVW3XY');
      await page.getByRole('button', { name: 'Fortsett' }).click();
      await h1(page, 'Hvordan vil du bekrefte innlogginger?');
    },
  ],
  'setup-face': [
    { biometric: { available: true, kind: 'face' } },
    async (page) => {
      await enrolForm(page);
      await page.getByLabel('Fødselsnummer eller D-nummer').fill('02877213709');
      await page.getByLabel('Aktiveringskode').pressSequentially('K7M2PQ9RSTVW3XY');
      await page.getByRole('button', { name: 'Fortsett' }).click();
      await page.getByRole('button', { name: 'Bruk ansiktsgjenkjenning' }).waitFor();
    },
  ],
  'setup-offline': [
    { failures: { enrol: { code: 'offline', message: 'unreachable' } } },
    async (page) => {
      await enrolForm(page);
      await page.getByLabel('Fødselsnummer eller D-nummer').fill('02877213709');
      await page.getByLabel('Aktiveringskode').pressSequentially('K7M2PQ9RSTVW3XY');
      await page.getByRole('button', { name: 'Fortsett' }).click();
      await page.getByLabel('Kode', { exact: true }).fill('583920');
      await page.getByLabel('Gjenta koden').fill('583920');
      await page.getByRole('button', { name: 'Lagre koden' }).click();
      await page.getByText('Vi når ikke Nøkkel', { exact: false }).waitFor();
    },
  ],
  contact: [{ status: { ...READY, contactDone: false } }, async (page) => h1(page, 'Hvordan kan vi nå deg?')],
  unlock: [{ status: { ...READY, unlocked: false } }, async (page) => h1(page, 'Åpne Nøkkel')],
  // Issue 13: a phone prompt that failed says what to do next; a key the phone locked
  // away (a new fingerprint) leads to starting over.
  'unlock-lockout': [
    {
      status: { ...READY, unlocked: false, verification: 'biometric' },
      failures: { unlock: { code: 'biometry_lockout', message: 'locked' } },
    },
    async (page) => {
      await h1(page, 'Åpne Nøkkel');
      await page.getByRole('button', { name: 'Åpne' }).click();
      await page.getByRole('alert').waitFor();
    },
  ],
  'key-lost': [
    {
      status: { ...READY, unlocked: false, verification: 'biometric' },
      failures: { unlock: { code: 'key_invalidated', message: 'invalidated' } },
    },
    async (page) => {
      await page.getByRole('button', { name: 'Åpne' }).click();
      await h1(page, 'Sett opp Nøkkel på nytt på denne telefonen');
      await page.getByRole('button', { name: 'Start på nytt på denne telefonen' }).click();
      await page.getByRole('button', { name: 'Ja, start på nytt' }).waitFor();
    },
  ],
  'home-empty': [{ status: READY }, async (page) => h1(page, 'Nøkkel er klar')],
  // App logins paused after "this wasn't me" (or a suspected copy), and resumed.
  'home-paused': [
    { status: READY, paused: true },
    async (page) => {
      await h1(page, 'Innlogging med appen er satt på pause');
      await page.getByRole('button', { name: 'Gjenoppta innlogging' }).waitFor();
    },
  ],
  'home-resumed': [
    { status: READY, paused: true },
    async (page) => {
      await page.getByRole('button', { name: 'Gjenoppta innlogging' }).click();
      await page.getByLabel('Kode', { exact: true }).fill('583920');
      await page.getByRole('button', { name: 'Ja, gjenoppta innlogging' }).click();
      await page.getByText('Innlogging er gjenopptatt.', { exact: false }).waitFor();
      await h1(page, 'Nøkkel er klar');
    },
  ],
  request: [{ status: READY, request: REQUEST }, async (page) => h1(page, 'Logge inn i Skatteetaten?')],
  'request-en': [{ status: READY, request: REQUEST }, async (page) => h1(page, 'Log in to Skatteetaten?'), 'en-GB'],
  'request-nn': [{ status: READY, request: REQUEST }, async (page) => h1(page, 'Logge inn i Skatteetaten?'), 'nn-NO'],
  verify: [
    { status: READY, request: REQUEST },
    async (page) => {
      await page.getByRole('button', { name: '64' }).click();
      await h1(page, 'Bekreft at det er deg');
    },
  ],
  approved: [
    { status: READY, request: REQUEST },
    async (page) => {
      await page.getByRole('button', { name: '64' }).click();
      await page.getByLabel('Kode', { exact: true }).fill('583920');
      await page.getByRole('button', { name: 'Bekreft innlogging' }).click();
      await h1(page, 'Du er logget inn');
    },
  ],
  'wrong-number': [
    { status: READY, request: REQUEST, failures: { approve: { code: 'wrong_number' } } },
    async (page) => {
      await page.getByRole('button', { name: '27' }).click();
      await page.getByLabel('Kode', { exact: true }).fill('583920');
      await page.getByRole('button', { name: 'Bekreft innlogging' }).click();
      await h1(page, 'Tallet stemte ikke');
    },
  ],
  expired: [
    { status: READY, request: REQUEST, failures: { approve: { code: 'expired' } } },
    async (page) => {
      await page.getByRole('button', { name: '64' }).click();
      await page.getByLabel('Kode', { exact: true }).fill('583920');
      await page.getByRole('button', { name: 'Bekreft innlogging' }).click();
      await h1(page, 'Forespørselen er utløpt');
    },
  ],
  report: [
    { status: READY, request: REQUEST },
    async (page) => {
      await page.getByRole('button', { name: 'Dette var ikke meg' }).click();
      await h1(page, 'Dette var ikke meg');
    },
  ],
  reported: [
    { status: READY, request: REQUEST },
    async (page) => {
      await page.getByRole('button', { name: 'Dette var ikke meg' }).click();
      await page.getByRole('button', { name: 'Stopp og meld fra' }).click();
      await h1(page, 'Innloggingen er stoppet og meldt');
    },
  ],
  denied: [
    { status: READY, request: REQUEST },
    async (page) => {
      await page.getByRole('button', { name: 'Avvis' }).click();
      await h1(page, 'Innloggingen er avvist');
    },
  ],
  offline: [
    { status: READY, failures: { pending_request: { code: 'offline' } } },
    async (page) => page.getByRole('heading', { name: 'Ingen forbindelse' }).waitFor(),
  ],
  history: [
    { status: READY, history: HISTORY },
    async (page) => {
      await page.getByRole('button', { name: 'Historikk' }).click();
      await h1(page, 'Innloggingshistorikk');
      await page.locator('.history li').first().waitFor();
    },
  ],
  // Issue 12: moving Nøkkel between phones, on the new phone (from the welcome screen)
  // and on the old phone (from Settings).
  'transfer-new-code': [
    { qrSvg: QR_SVG },
    async (page) => {
      await h1(page, 'Velkommen til Nøkkel');
      await page.getByRole('button', { name: 'Flytt fra den gamle telefonen' }).click();
      await h1(page, 'Flytt Nøkkel fra den gamle telefonen');
      await page.getByLabel('Kode', { exact: true }).fill('583920');
      await page.getByLabel('Gjenta koden').fill('583920');
      await page.getByRole('button', { name: 'Lagre og vis koden' }).click();
      await h1(page, 'Skriv inn denne koden på den gamle telefonen');
    },
  ],
  'transfer-new-done': [
    { transfer: 'enrolled' },
    async (page) => {
      await page.getByRole('button', { name: 'Flytt fra den gamle telefonen' }).click();
      await page.getByLabel('Kode', { exact: true }).fill('583920');
      await page.getByLabel('Gjenta koden').fill('583920');
      await page.getByRole('button', { name: 'Lagre og vis koden' }).click();
      await h1(page, 'Denne telefonen er nå din Nøkkel');
    },
  ],
  'transfer-old-confirm': [
    { status: READY },
    async (page) => {
      await page.getByRole('button', { name: 'Innstillinger' }).click();
      await page.getByRole('button', { name: 'Flytt til ny telefon' }).click();
      await h1(page, 'Flytt Nøkkel til ny telefon');
      await page.getByLabel('Flyttekode').pressSequentially('7kqm3xa9d');
      await page.getByRole('button', { name: 'Fortsett' }).click();
      await h1(page, 'Er dette den nye telefonen din?');
    },
  ],
  'transfer-old-retired': [
    { status: READY },
    async (page) => {
      await page.getByRole('button', { name: 'Innstillinger' }).click();
      await page.getByRole('button', { name: 'Flytt til ny telefon' }).click();
      await page.getByLabel('Flyttekode').pressSequentially('7KQ-M3X-A9D');
      await page.getByRole('button', { name: 'Fortsett' }).click();
      await page.getByLabel('Fjern denne telefonen fra Nøkkel').check();
      await page.getByLabel('Kode', { exact: true }).fill('583920');
      await page.getByRole('button', { name: 'Flytt Nøkkel' }).click();
      await h1(page, 'Denne telefonen er ikke lenger registrert');
    },
  ],
  settings: [
    { status: READY, developer: true },
    async (page) => {
      await page.getByRole('button', { name: 'Innstillinger' }).click();
      await h1(page, 'Innstillinger');
    },
  ],
};

test('reflows at 320 px with text at 200 %: no sideways scrolling (WCAG 1.4.10, 1.4.4)', async () => {
  const context = await browser.newContext({ viewport: { width: 320, height: 640 }, locale: 'nb-NO' });
  await context.addInitScript(installStub, { status: READY, request: REQUEST });
  const page = await context.newPage();
  try {
    await page.goto(baseUrl);
    await h1(page, 'Logge inn i Skatteetaten?');
    await page.evaluate(() => {
      document.documentElement.style.fontSize = '200%';
    });
    const [scrollWidth, clientWidth] = await page.evaluate(() => [
      document.documentElement.scrollWidth,
      document.documentElement.clientWidth,
    ]);
    assert.ok(scrollWidth <= clientWidth, `the page is ${scrollWidth} px wide in a ${clientWidth} px window`);
    // The three numbers stay big, tappable buttons.
    for (const n of ['27', '64', '81']) {
      const box = await page.getByRole('button', { name: n }).boundingBox();
      assert.ok(box.width >= 44 && box.height >= 44, `button ${n} is ${box.width}×${box.height}`);
    }
  } finally {
    await context.close();
  }
});

for (const [name, [scenario, steps, locale]] of Object.entries(SHOTS)) {
  test(`screen ${name}`, async () => {
    const { page, context, problems } = await open(scenario, locale);
    try {
      await steps(page);
      await check(page, name);
      assert.deepEqual(problems, [], 'no script errors');
    } finally {
      await context.close();
    }
  });
}
