// Acceptance: a citizen orders a letter, activates the real app with the code from the
// demo inbox, then logs in to the demo relying party in a browser and approves in the app
// by picking the number the browser shows. Everything is real: server, OpenID Connect
// relying party, app, nokkel-client, the passcode-wrapped key.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  activateApp,
  approveWithNumber,
  button,
  heading,
  launchBrowser,
  openApp,
  orderLetterCode,
  screenshot,
  startDemoLogin,
  startServer,
} from '../lib/harness.js';

// A demo person (assets/demo/population.csv) with an address and no account yet.
const PID = '02877213709';
const PASSCODE = '583920';

let server;
let session;
let browser;
before(async () => {
  server = await startServer();
  session = await openApp({ NOKKEL_TEST_SERVER_URL: server.url });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await session?.stop();
  await server?.stop();
});

test('activate the app with the letter, then approve a relying party login with the right number', async () => {
  const { app } = session;
  const code = await orderLetterCode(server.url, PID);

  // Activation in the app.
  await activateApp(app, { pid: PID, code, passcode: PASSCODE });

  // The relying party starts a login in the browser.
  const { page, number } = await startDemoLogin(browser, server.url, PID);

  // The app shows the request; pick the number the browser shows, confirm with the passcode.
  await app.waitUntil(async () => (await app.$$('ul.numbers button')).length === 3, {
    timeout: 40_000,
    timeoutMsg: 'the login request never reached the app',
  });
  await screenshot(app, 'request');
  await approveWithNumber(app, number, PASSCODE);

  // The browser continues by itself and the relying party has the person's identity.
  await page.getByRole('heading', { level: 1, name: 'Du er logget inn på demotjenesten' }).waitFor({ timeout: 30_000 });
  assert.ok((await page.content()).includes(PID), 'the relying party received the pid claim');

  // The history in the app shows the approval.
  await (await button(app, 'Tilbake til start')).click();
  await heading(app, 'Nøkkel er klar');
  await (await button(app, 'Historikk')).click();
  await heading(app, 'Innloggingshistorikk');
  await app.waitUntil(async () => (await app.$$('.history li')).length > 0, { timeout: 10_000 });
  assert.match(await (await app.$('.history li')).getText(), /Godkjent/);
});
