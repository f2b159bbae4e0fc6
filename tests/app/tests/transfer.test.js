// Moving Nøkkel between phones with the real desktop app on one side and `nokkel device`
// (the software authenticator) on the other, against `nokkel serve --demo`: first the app
// is the new phone and the software device the old one (which stays), then the app is the
// old phone and moves on to another software device, removing itself.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { button, field, heading, openApp, runDevice, screenshot, startDevice, startServer } from '../lib/harness.js';

// A demo person (assets/demo/population.csv) with an address and no account yet.
const PID = '14838514058';
const PASSCODE = '583920';

let server;
let session;
let oldState;
let newState;
before(async () => {
  server = await startServer();
  session = await openApp({ NOKKEL_TEST_SERVER_URL: server.url });
  oldState = mkdtempSync(path.join(tmpdir(), 'nokkel-app-e2e-old-'));
  newState = mkdtempSync(path.join(tmpdir(), 'nokkel-app-e2e-new-'));
});
after(async () => {
  await session?.stop();
  await server?.stop();
  for (const dir of [oldState, newState]) if (dir) rmSync(dir, { recursive: true, force: true });
});

async function letterCode() {
  const response = await fetch(`${server.url}/api/v1/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ v: 1, pid: PID }),
  });
  assert.equal(response.status, 202, await response.text());
  const letters = await (await fetch(`${server.url}/dev/letters?format=json`)).json();
  const mine = letters.find((l) => l.pid === PID);
  assert.ok(mine, 'the demo inbox has the letter');
  return mine.code;
}

test('the app moves from a software device, then on to another one, removing itself', async () => {
  const { app } = session;
  const enrolled = await runDevice(oldState, [
    'enrol', '--server', server.url, '--pid', PID, '--code', await letterCode(), '--name', 'Gammel telefon',
  ]);
  assert.equal(enrolled.code, 0, enrolled.output);

  // The app as the new phone: a passcode, then the code to type on the old phone.
  await (await app.$('#lang-nb')).waitForExist({ timeout: 30_000 });
  await (await app.$('#lang-nb')).click();
  await (await button(app, 'Flytt fra den gamle telefonen')).click();
  await heading(app, 'Flytt Nøkkel fra den gamle telefonen');
  await (await field(app, 'Navn på denne enheten')).setValue('Skrivebordet');
  await (await field(app, 'Kode')).setValue(PASSCODE);
  await (await field(app, 'Gjenta koden')).setValue(PASSCODE);
  await (await button(app, 'Lagre og vis koden')).click();
  await heading(app, 'Skriv inn denne koden på den gamle telefonen', 30_000);
  const shown = /[0-9A-Z]{3}-[0-9A-Z]{3}-[0-9A-Z]{3}/.exec(await (await app.$('.transfer-code')).getText())?.[0];
  assert.ok(shown, 'the app shows a code in three groups of three');
  assert.ok(await (await app.$('img.transfer-qr')).isExisting(), 'the code is also a QR code');
  await screenshot(app, 'transfer-code');

  // The old phone approves and stays.
  const approved = await runDevice(oldState, ['transfer', 'approve', shown]);
  assert.equal(approved.code, 0, approved.output);
  await heading(app, 'Denne telefonen er nå din Nøkkel', 40_000);
  await (await button(app, 'Åpne Nøkkel')).click();
  await heading(app, 'Åpne Nøkkel');
  await (await field(app, 'Kode')).setValue(PASSCODE);
  await (await button(app, 'Åpne')).click();
  await heading(app, 'Nøkkel er klar', 30_000);
  const devices = await runDevice(oldState, ['devices']);
  assert.equal(devices.code, 0, devices.output);
  assert.match(devices.output, /Skrivebordet/);

  // The app as the old phone: a software device starts a move and waits.
  const waiting = startDevice(newState, ['transfer', 'start', '--server', server.url, '--name', 'Nyeste telefon', '--wait', '120']);
  let code;
  await app.waitUntil(async () => (code = /transfer code (\S+)/.exec(waiting.output())?.[1]) !== undefined, {
    timeout: 30_000,
    timeoutMsg: `nokkel device transfer start printed no code: ${waiting.output()}`,
  });
  await (await button(app, 'Innstillinger')).click();
  await heading(app, 'Innstillinger');
  await (await button(app, 'Flytt til ny telefon')).click();
  await heading(app, 'Flytt Nøkkel til ny telefon');
  // Typed in lower case without dashes: the field groups it as it goes.
  const input = await field(app, 'Flyttekode');
  await input.addValue(code.replace(/-/g, '').toLowerCase());
  await app.waitUntil(async () => (await input.getValue()) === code, {
    timeout: 5_000,
    timeoutMsg: `the code was not grouped: ${await input.getValue()}`,
  });
  await (await button(app, 'Fortsett')).click();
  await heading(app, 'Er dette den nye telefonen din?', 30_000);
  const facts = await (await app.$('dl.request')).getText();
  assert.match(facts, /Nyeste telefon/);
  assert.match(facts, /Programvareautentikator/);
  await (await app.$('#transfer-retire')).click();
  await (await field(app, 'Kode')).setValue(PASSCODE);
  await (await button(app, 'Flytt Nøkkel')).click();
  await heading(app, 'Denne telefonen er ikke lenger registrert', 30_000);
  await screenshot(app, 'transfer-retired');
  assert.equal(await waiting.exited, 0, waiting.output());
  assert.match(waiting.output(), /enrolled device/);
  await (await button(app, 'Ferdig')).click();
  await heading(app, 'Velkommen til Nøkkel');

  // The person's active devices: the first software device (kept) and the newest; the
  // app removed itself.
  const listed = await runDevice(newState, ['devices']);
  assert.equal(listed.code, 0, listed.output);
  assert.match(listed.output, /Nyeste telefon/);
  assert.match(listed.output, /Gammel telefon/);
  assert.doesNotMatch(listed.output, /Skrivebordet/);
});
