// The frame of the app's end-to-end tests: the real desktop build (`tauri build --debug
// --no-bundle`) driven through tauri-driver + WebKitWebDriver (WebdriverIO, WebDriver
// classic), a fresh `nokkel serve --demo` when a test needs a server, and Debian's
// Chromium (playwright-core) as the browser of the relying party. Run under Xvfb:
//   xvfb-run -a npm test --prefix tests/app
// Missing tools make the tests fail with the command that installs them.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { remote } from 'webdriverio';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../../..');
export const SCREENSHOT_DIR = path.join(REPO, 'docs/screenshots');
const TARGET = process.env.CARGO_TARGET_DIR || path.join(homedir(), '.cache/nokkel-target');
const CHROMIUM = process.env.NOKKEL_TEST_CHROMIUM || '/usr/bin/chromium';

function need(file, what, install) {
  if (!file || !existsSync(file)) {
    throw new Error(`${what} not found at ${file}. ${install}`);
  }
  return file;
}

/** The desktop app built with `npm run tauri -- build --debug --no-bundle` in ui/. */
export function appBinary() {
  return need(
    process.env.NOKKEL_TEST_APP || path.join(TARGET, 'debug/nokkel-app'),
    'The Nøkkel desktop app',
    'Build it: (cd ui && npm run tauri -- build --debug --no-bundle), or set NOKKEL_TEST_APP.',
  );
}

function tauriDriver() {
  const candidates = [process.env.NOKKEL_TEST_TAURI_DRIVER, path.join(homedir(), '.cargo/bin/tauri-driver')];
  const found = candidates.find((c) => c && existsSync(c));
  return need(found ?? candidates[1], 'tauri-driver', 'Install it: cargo install tauri-driver --locked');
}

function nokkelBinary() {
  return need(
    process.env.NOKKEL_TEST_BIN || path.join(TARGET, 'debug/nokkel'),
    'The nokkel server binary',
    'Build it: cargo build -p nokkel-cli, or set NOKKEL_TEST_BIN.',
  );
}

/** A TCP port that is free right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, child, log, seconds = 30) {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`process exited early (${child.exitCode}):\n${log()}`);
    const open = await new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing listens on port ${port} after ${seconds} s:\n${log()}`);
}

/** Ends a child process: SIGTERM, then SIGKILL if it is still there after 5 s. */
export async function stopChild(child) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timeout = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timeout);
  }
}

/** Only what a child needs from our environment: no NOKKEL_* (the server rejects unknown ones). */
function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('NOKKEL_')));
}

/** Starts `nokkel serve --demo` on a free port with a fresh data directory. */
export async function startServer() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'nokkel-app-e2e-data-'));
  const port = await freePort();
  const child = spawn(nokkelBinary(), ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...cleanEnv(), NO_COLOR: '1' },
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  await waitForPort(port, child, () => output);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    async stop() {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts `nokkel device --state DIR ARGS` (the software authenticator, playing the other
 * phone). `output()` is what it printed so far; `exited` resolves to its exit code.
 */
export function startDevice(stateDir, args) {
  const child = spawn(nokkelBinary(), ['device', '--state', stateDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...cleanEnv(), NO_COLOR: '1' },
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  return { output: () => output, exited, stop: () => stopChild(child) };
}

/** Runs `nokkel device --state DIR ARGS` to its end: its exit code and output. */
export async function runDevice(stateDir, args) {
  const run = startDevice(stateDir, args);
  const code = await run.exited;
  return { code, output: run.output() };
}

/**
 * Opens the real app through tauri-driver, with a fresh state folder. `env` reaches the
 * app (tauri-driver starts it): e.g. NOKKEL_TEST_SERVER_URL. Returns the WebdriverIO
 * browser and a stop function.
 */
export async function openApp(env = {}) {
  if (!process.env.DISPLAY) {
    throw new Error('No X display. Run the app tests under Xvfb: xvfb-run -a npm test --prefix tests/app');
  }
  need('/usr/bin/WebKitWebDriver', 'WebKitWebDriver', 'Install it: apt-get install webkit2gtk-driver');
  const application = appBinary();
  const stateDir = mkdtempSync(path.join(tmpdir(), 'nokkel-app-e2e-state-'));
  const port = await freePort();
  const nativePort = await freePort();
  const driver = spawn(tauriDriver(), ['--port', String(port), '--native-port', String(nativePort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...cleanEnv(),
      // Read by the app (debug builds only): its own state folder, the key in a file
      // (no Secret Service under Xvfb; the passcode still wraps it), the server.
      NOKKEL_TEST_STATE_DIR: stateDir,
      NOKKEL_TEST_FILE_VAULT: '1',
      ...env,
    },
  });
  let log = '';
  driver.stdout.on('data', (c) => (log += c));
  driver.stderr.on('data', (c) => (log += c));
  await waitForPort(port, driver, () => log);
  const started = Date.now();
  const app = await remote({
    hostname: '127.0.0.1',
    port,
    logLevel: 'error',
    capabilities: {
      'tauri:options': { application },
      'wdio:enforceWebDriverClassic': true,
    },
  });
  return {
    app,
    started,
    stateDir,
    async stop() {
      await app.deleteSession().catch(() => {});
      await stopChild(driver);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium for the relying party's pages. */
export async function launchBrowser() {
  need(CHROMIUM, 'Chromium', 'Install it: apt-get install chromium');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Saves a WebDriver screenshot of the app window when NOKKEL_TEST_SCREENSHOTS=1. */
export async function screenshot(app, name) {
  if (process.env.NOKKEL_TEST_SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await app.saveScreenshot(path.join(SCREENSHOT_DIR, `app-e2e-${name}.png`));
}

/** The h1 text of the app's current screen, once it equals `text` (or fails after 15 s). */
export async function heading(app, text, timeout = 15_000) {
  const h1 = await app.$('main h1');
  await app.waitUntil(async () => (await h1.isExisting()) && (await h1.getText()) === text, {
    timeout,
    timeoutMsg: `the app's heading never became "${text}" (last: "${await h1.getText().catch(() => '?')}")`,
  });
}

/** The input labelled `label` (by its <label for>). */
export async function field(app, label) {
  const labelEl = await app.$(`//label[normalize-space()="${label}"]`);
  const id = await labelEl.getAttribute('for');
  return app.$(`#${id}`);
}

/** The button whose text is `text`. */
export function button(app, text) {
  return app.$(`//button[normalize-space()="${text}"]`);
}

/** Orders a letter for `pid` at the demo server `url` and returns its code from the demo inbox. */
export async function orderLetterCode(url, pid) {
  const response = await fetch(`${url}/api/v1/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ v: 1, pid }),
  });
  assert.equal(response.status, 202, await response.text());
  const letters = await (await fetch(`${url}/dev/letters?format=json`)).json();
  const mine = letters.filter((l) => l.pid === pid);
  assert.ok(mine.length > 0, 'the demo inbox has the letter');
  return mine[0].code;
}

/**
 * Activates the app in Bokmål as a person would: identity number and the letter's `code`,
 * a passcode, then a mobile number saved with the passcode again. Ends on the home screen.
 */
export async function activateApp(app, { pid, code, passcode, mobile = '412 34 567' }) {
  await (await app.$('#lang-nb')).waitForExist({ timeout: 30_000 });
  await (await app.$('#lang-nb')).click();
  await (await button(app, 'Aktiver appen')).click();
  await heading(app, 'Aktiver appen');
  await (await field(app, 'Fødselsnummer eller D-nummer')).setValue(pid);
  await (await field(app, 'Aktiveringskode')).addValue(code);
  await (await button(app, 'Fortsett')).click();
  await heading(app, 'Hvordan vil du bekrefte innlogginger?');
  await (await field(app, 'Kode')).setValue(passcode);
  await (await field(app, 'Gjenta koden')).setValue(passcode);
  await (await button(app, 'Lagre koden')).click();
  await heading(app, 'Hvordan kan vi nå deg?', 60_000);
  // Changing the contact register asks for the passcode afresh (an action statement).
  await (await field(app, 'Mobilnummer')).setValue(mobile);
  await (await field(app, 'Kode')).setValue(passcode);
  await (await button(app, 'Lagre')).click();
  await heading(app, 'Nøkkel er klar', 30_000);
}

/**
 * Starts a login for `pid` at the demo relying party of the server at `url` in a new page of
 * `browser` (Bokmål); returns the page and the two-digit number it shows.
 */
export async function startDemoLogin(browser, url, pid) {
  const page = await browser.newPage();
  await page.goto(`${url}/demo?lang=nb`);
  await page.getByRole('button', { name: 'Logg inn med Nøkkel' }).click();
  await page.getByLabel('Fødselsnummer eller D-nummer').fill(pid);
  await page.getByRole('button', { name: 'Fortsett' }).click();
  await page.getByRole('heading', { level: 1, name: 'Bekreft i Nøkkel-appen' }).waitFor({ timeout: 15_000 });
  const number = (await page.locator('.number').textContent()).trim();
  assert.match(number, /^\d{2}$/);
  return { page, number };
}

/**
 * On the request screen: checks the app offers `number` among its choices, picks it and
 * confirms with `passcode`. Ends on the app's "logged in" screen.
 */
export async function approveWithNumber(app, number, passcode) {
  const choices = [];
  for (const b of await app.$$('ul.numbers button')) choices.push(await b.getText());
  assert.ok(choices.includes(number), `the app offers ${choices} and one of them is ${number}`);
  await (await button(app, number)).click();
  await heading(app, 'Bekreft at det er deg');
  await (await field(app, 'Kode')).setValue(passcode);
  await (await button(app, 'Bekreft innlogging')).click();
  await heading(app, 'Du er logget inn', 30_000);
}
