// The real app opens on the welcome screen and walks into activation: language choice,
// code grouping and typo detection come from the Rust commands (nokkel-core), not from a
// mock. No server is needed (nothing is sent before step 2).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { button, field, heading, openApp, screenshot } from '../lib/harness.js';

let session;
before(async () => {
  // A server address where nothing listens: this walk must not need one.
  session = await openApp({ NOKKEL_TEST_SERVER_URL: 'http://127.0.0.1:9' });
});
after(async () => {
  await session?.stop();
});

test('welcome → activation, in Bokmål, with the code grouped and a typo caught', async () => {
  const { app } = session;
  await app.waitUntil(async () => (await app.$('main h1').isExisting()), { timeout: 30_000 });
  assert.equal(await app.getTitle(), 'Nøkkel');

  // Choose Bokmål explicitly: the page language follows.
  await (await app.$('#lang-nb')).click();
  await heading(app, 'Velkommen til Nøkkel');
  assert.equal(await app.execute(() => document.documentElement.lang), 'nb');
  await screenshot(app, 'welcome');

  await (await button(app, 'Aktiver appen')).click();
  await heading(app, 'Aktiver appen');

  const pid = await field(app, 'Fødselsnummer eller D-nummer');
  await pid.setValue('14838514058');
  const code = await field(app, 'Aktiveringskode');
  // Typed in lower case without dashes: the field groups it (format_code) as it goes.
  await code.addValue('abcdefghjk');
  await app.waitUntil(async () => (await code.getValue()) === 'ABCDE-FGHJK', {
    timeout: 5_000,
    timeoutMsg: `the code was not grouped: ${await code.getValue()}`,
  });
  // Complete it with a wrong check symbol: the app says it is a typo before sending.
  await code.addValue('mnpq8');
  const error = await app.$('#code-error');
  await error.waitForExist({ timeout: 5_000 });
  assert.match(await error.getText(), /skrivefeil/);
  assert.equal(await code.getAttribute('aria-invalid'), 'true');
  await screenshot(app, 'enrol-typo');
});
