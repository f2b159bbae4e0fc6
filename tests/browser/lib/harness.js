// The shared frame of the browser tests: a fresh `nokkel serve --demo` per test file,
// Debian's Chromium through playwright-core, axe-core on every page a test visits, and
// screenshots when NOKKEL_TEST_SCREENSHOTS=1.
//
// Every test file calls `useNokkel()` at its top level; it registers before/after hooks
// that start and stop the server and the browser, and an afterEach hook that fails a
// test which loaded a page without checking it with axe.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Where screenshots go: docs/screenshots at the repository root (the committed ones), or
 * NOKKEL_TEST_SCREENSHOT_DIR to look at a run's screenshots without touching the docs.
 */
export const SCREENSHOT_DIR = process.env.NOKKEL_TEST_SCREENSHOT_DIR
  ? path.resolve(process.env.NOKKEL_TEST_SCREENSHOT_DIR)
  : path.resolve(here, '../../../docs/screenshots');
const AXE_PATH = require.resolve('axe-core/axe.min.js');
const CHROMIUM = process.env.NOKKEL_TEST_CHROMIUM || '/usr/bin/chromium';
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** Viewports for screenshots: a common phone and a desktop window. */
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 900 };

function nokkelBinary() {
  const bin = process.env.NOKKEL_TEST_BIN;
  if (!bin) {
    throw new Error(
      'NOKKEL_TEST_BIN is not set. Build the server and point at it, e.g.\n' +
        '  cargo build -p nokkel-cli && NOKKEL_TEST_BIN=$CARGO_TARGET_DIR/debug/nokkel npm test --prefix tests/browser',
    );
  }
  if (!existsSync(bin)) {
    throw new Error(`NOKKEL_TEST_BIN=${bin} does not exist. Build it with: cargo build -p nokkel-cli`);
  }
  return bin;
}

/** A TCP port that is free right now (the OS picks it; we close it again at once). */
function freePort() {
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

function serverEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('NOKKEL_')));
}

/** Starts `nokkel serve --demo` on a free port with a fresh data directory. */
async function startServer() {
  const bin = nokkelBinary();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'nokkel-browser-data-'));
  // An explicit free port rather than port 0: the server derives its public URL (printed
  // in letters) from the configured listen address, which with port 0 would say ":0".
  const port = await freePort();
  const child = spawn(bin, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The server reads NOKKEL_* variables as its configuration and rejects unknown ones,
    // so the test runner's own (NOKKEL_TEST_BIN, NOKKEL_TEST_SCREENSHOTS, ...) must not reach it.
    env: { ...serverEnv(), NO_COLOR: '1' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const url = await new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      reject(new Error(`nokkel serve printed no URL within 30 s.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, 30_000);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /Nøkkel is running at (http:\/\/\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1].replace(/\/$/, ''));
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`nokkel serve exited (code ${code}, signal ${signal}) before printing its URL.\nstderr:\n${stderr}`));
    });
  });
  child.removeAllListeners('exit');
  return {
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timeout = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timeout);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing. Install Debian's Chromium: apt-get install chromium`);
  }
  // launch() gives Chromium a fresh temporary profile (--user-data-dir) of its own and
  // deletes it on close; passing --user-data-dir ourselves is refused by playwright-core.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking flags Chromium keeps trying to reach Google's
    // services, which on a closed network only produces refused connections.
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
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/**
 * Runs axe-core's WCAG 2.1 A and AA rules on the page as it is now and fails with a
 * readable list of violations (rule, impact, help, and the elements) if any.
 */
export async function assertAccessible(page, label) {
  if (withoutScript.has(page)) {
    await assertAccessibleWithoutScript(page, label);
    markChecked(page);
    return;
  }
  const hasAxe = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!hasAxe) {
    await page.addScriptTag({ path: AXE_PATH });
  }
  const results = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
    WCAG_TAGS,
  );
  const violations = results.violations;
  if (violations.length > 0) {
    const lines = violations.flatMap((v) => [
      `- ${v.id} (${v.impact}): ${v.help}`,
      ...v.nodes.map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1).join(' ').trim()}`),
    ]);
    assert.fail(`axe found ${violations.length} WCAG 2.1 A/AA violation(s) on "${label}" (${page.url()}):\n${lines.join('\n')}`);
  }
  markChecked(page);
}

// Pages of contexts opened with `javaScriptEnabled: false`. axe-core cannot run there (the
// page's timers never fire), so their DOM is checked in a scripted copy instead.
const withoutScript = new WeakSet();

/**
 * Checks a page rendered without JavaScript: its DOM as the browser built it (`<noscript>`
 * content parsed as markup) is served, with the `<noscript>` wrappers and scripts removed,
 * to a JavaScript-enabled tab at the same URL and size, where axe runs as usual.
 */
async function assertAccessibleWithoutScript(page, label) {
  const html = (await page.content())
    .replace(/<\/?noscript>/g, '')
    .replace(/<script\b[^>]*>[\s\S]*?<\/script>/g, '');
  const url = page.url();
  const copy = await page.context().browser().newContext({ viewport: page.viewportSize(), bypassCSP: true });
  try {
    const tab = await copy.newPage();
    await tab.route((requested) => requested.href === url, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
    await tab.goto(url);
    await assertAccessible(tab, `${label} (without JavaScript)`);
  } finally {
    await copy.close();
  }
}

// ---------------------------------------------------------------- visit tracking

// Each document a page loaded, so that afterEach can prove every one was checked by axe.
// The load event fires once per new document (not for jumps to #fragments).
const visits = new WeakMap();

function track(page) {
  const list = [];
  visits.set(page, list);
  page.on('load', () => list.push({ url: page.url(), checked: false }));
}

function markChecked(page) {
  const list = visits.get(page);
  if (list && list.length > 0) list[list.length - 1].checked = true;
}

/**
 * Checks the page with axe and, when NOKKEL_TEST_SCREENSHOTS=1, saves full-page screenshots
 * named `${name}-phone.png` / `${name}-desktop.png` (or only `${name}.png` at the current
 * size when `sizes` is empty).
 */
export async function checkPage(page, name, { sizes = ['phone', 'desktop'], screenshot = true } = {}) {
  await assertAccessible(page, name);
  if (!screenshot || process.env.NOKKEL_TEST_SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const original = page.viewportSize();
  if (sizes.length === 0) {
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
    return;
  }
  for (const size of sizes) {
    await page.setViewportSize(size === 'phone' ? PHONE : DESKTOP);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}-${size}.png`), fullPage: true });
  }
  await page.setViewportSize(original);
}

/**
 * Like checkPage, but runs axe at the phone and at the desktop size first (a layout that
 * changes with the width can break contrast, target size or order at one size only).
 */
export async function checkPageAtSizes(page, name, options = {}) {
  const original = page.viewportSize();
  for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
    await page.setViewportSize(viewport);
    await assertAccessible(page, `${name} (${size})`);
  }
  await page.setViewportSize(original);
  await checkPage(page, name, options);
}

// ---------------------------------------------------------------- lifecycle

/**
 * Registers the hooks for one test file and returns a context whose `url` and
 * `newPage()` are ready inside tests.
 */
export function useNokkel() {
  const ctx = {
    url: '',
    server: null,
    browser: null,
    /**
     * A page in a fresh browser context (own cookies) for test `t`. When `t` ends, the
     * context closes and `t` fails if any document loaded in it escaped the axe check.
     */
    async newPage(t, options = {}) {
      const session = await ctx.openSession(options);
      t.after(async () => {
        const unchecked = session.unchecked();
        await session.close();
        assert.deepEqual(unchecked, [], 'every page a test loads must be checked with axe (checkPage/assertAccessible)');
      });
      return session.page;
    },
    /**
     * A fresh browser context with one tab. `unchecked()` lists the documents loaded in
     * any of its tabs that no axe check has seen yet.
     */
    async openSession({ viewport = DESKTOP, locale = 'nb-NO', javaScriptEnabled = true } = {}) {
      // bypassCSP lets the test inject axe-core into pages whose Content-Security-Policy
      // (rightly) forbids inline scripts; the pages themselves are served unchanged.
      const context = await ctx.browser.browser.newContext({ viewport, locale, bypassCSP: true, javaScriptEnabled });
      // Every tab opened in this context is tracked, also those a test opens later.
      const tabs = [];
      context.on('page', (page) => {
        page.setDefaultTimeout(10_000);
        track(page);
        if (!javaScriptEnabled) withoutScript.add(page);
        tabs.push(page);
      });
      const page = await context.newPage();
      return {
        context,
        page,
        unchecked: () =>
          tabs.flatMap((tab) =>
            (visits.get(tab) ?? []).filter((v) => !v.checked && v.url !== 'about:blank').map((v) => v.url),
          ),
        close: () => context.close(),
      };
    },
  };
  before(async () => {
    ctx.server = await startServer();
    ctx.url = ctx.server.url;
    ctx.browser = await launchBrowser();
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });
  return ctx;
}

// ---------------------------------------------------------------- the dev inbox

/** The letters in the demo inbox, newest first, as the JSON view gives them. */
export async function inboxLetters(baseUrl) {
  const response = await fetch(`${baseUrl}/dev/letters?format=json`);
  assert.equal(response.status, 200);
  return response.json();
}

/** The SMS messages in the demo inbox, as the JSON view gives them. */
export async function inboxSms(baseUrl) {
  const response = await fetch(`${baseUrl}/dev/sms?format=json`);
  assert.equal(response.status, 200);
  return response.json();
}
