// Issue 11: a login that arrives while the app's window is out of sight gets a desktop
// notification, and clicking it brings the window back with the request. Everything is
// real: the app sends Notify to dunst (a real notification server) on a private D-Bus
// session bus, dunst records what it displays, and the click is an X pointer click
// (xdotool, XTEST) on dunst's window, after which dunst sends the app ActionInvoked.
//
// Three phases, each changing what the app reads from its window (visible, minimised,
// focused) and seen independently through the X server (xdotool) and the page
// (document.visibilityState, document.hasFocus()):
//   1. in sight: mapped and focused — no notification;
//   2. mapped, the desktop holds the input focus — one notification, withdrawn by the app
//      once the login is answered;
//   3. WebDriver's Minimize Window — one notification, none for a second poll of the same
//      request, and clicking it brings the window back, focused, with the request.
// Under Xvfb no window manager runs: nothing focuses a window unless xdotool does, and
// WebKitGTK's minimise leaves the window unmapped, which the app reads as hidden (not
// visible, not focused) rather than as minimised; the minimised reading is unit-tested
// only (src-tauri/src/notify.rs).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  REPO,
  activateApp,
  approveWithNumber,
  button,
  heading,
  launchBrowser,
  openApp,
  orderLetterCode,
  startDemoLogin,
  startServer,
} from '../lib/harness.js';
import { startNotificationDaemon } from '../lib/notification-daemon.js';

// A demo person (assets/demo/population.csv) with an address and no account yet.
const PID = '02877213709';
const PASSCODE = '583920';

/** The app's text for `key` in `lang`, from its Fluent file (single-line messages). */
function appText(lang, key) {
  const ftl = readFileSync(path.join(REPO, 'assets/i18n', lang, 'main.ftl'), 'utf8');
  const line = ftl.split('\n').find((l) => l.startsWith(`${key} = `));
  assert.ok(line, `${key} in ${lang}`);
  return line.slice(key.length + 3).trim();
}

let server;
let daemon;
let session;
let browser;
before(async () => {
  server = await startServer();
  daemon = await startNotificationDaemon();
  session = await openApp({ NOKKEL_TEST_SERVER_URL: server.url, DBUS_SESSION_BUS_ADDRESS: daemon.address });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await session?.stop();
  await daemon?.stop();
  await server?.stop();
});

/** The page's own view of its window (WebKit's): hidden, and focused. */
const windowState = (app) =>
  app.execute(() => ({ hidden: document.visibilityState === 'hidden', focused: document.hasFocus() }));

/** xdotool on the Xvfb display: the X server's view, independent of the app and WebKit. */
function xdotool(...args) {
  if (!existsSync('/usr/bin/xdotool')) throw new Error('xdotool not found. Install it: apt-get install xdotool');
  try {
    return execFileSync('/usr/bin/xdotool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    // `search` exits 1 when nothing matches.
    if (e.status === 1 && args[0] === 'search') return '';
    throw e;
  }
}
const appWindows = (...flags) => xdotool('search', ...flags, '--name', '^Nøkkel$').split('\n').filter(Boolean);

async function waitFor(what, check, timeout = 10_000) {
  const until = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what}: not within ${timeout / 1000} s\n${daemon.log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the app shows a login request with three numbers. */
async function requestShown(app) {
  await app.waitUntil(async () => (await app.$$('ul.numbers button')).length === 3, {
    timeout: 40_000,
    timeoutMsg: 'the login request never reached the app',
  });
}

/** Refuses the shown request in the app and goes back to the start screen. */
async function denyInApp(app) {
  await (await button(app, 'Avvis')).click();
  await heading(app, 'Innloggingen er avvist');
  await (await button(app, 'Tilbake til start')).click();
  await heading(app, 'Nøkkel er klar');
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

test('a login out of sight gets one notification, none in sight; clicking it brings the request back', async () => {
  const { app } = session;
  await activateApp(app, { pid: PID, code: await orderLetterCode(server.url, PID), passcode: PASSCODE });
  assert.deepEqual(daemon.notifications(), [], 'nothing was notified before a login');
  const [appWindow] = appWindows();
  assert.ok(appWindow, 'the app has an X window named Nøkkel');
  const root = xdotool('search', '--maxdepth', '0', '--name', '');

  // 1. In sight. No window manager runs under Xvfb, so nothing gives the window the focus:
  // xdotool does (XSetInputFocus), as a person clicking into it would.
  xdotool('windowfocus', '--sync', appWindow);
  await waitFor('the window focused', async () => (await windowState(app)).focused);
  const inSight = await startDemoLogin(browser, server.url, PID);
  await requestShown(app);
  // The notification would have been sent before the page got the request; give dunst
  // ample time to display it anyway.
  await pause(1_500);
  assert.deepEqual(daemon.notifications(), [], 'a login shown in a focused window was notified');
  await denyInApp(app);
  await inSight.page.close();

  // 2. Shown but not focused: the desktop (the root window) has the input focus, as after
  // clicking on another window.
  xdotool('windowfocus', '--sync', root);
  await waitFor('the window unfocused', async () => !(await windowState(app)).focused);
  assert.deepEqual(appWindows('--onlyvisible'), [appWindow]);
  const behind = await startDemoLogin(browser, server.url, PID);
  await waitFor('a notification for a window without focus', async () => daemon.notifications().length === 1, 5_000);
  await requestShown(app);
  assert.equal(await daemon.displayed(), 1, 'the notification is on screen while the login waits');
  await denyInApp(app);
  await behind.page.close();
  // Answered, the login no longer waits: the app withdraws its notification
  // (CloseNotification), as the next poll finds nothing.
  await waitFor('the answered login\'s notification withdrawn', async () => (await daemon.displayed()) === 0, 5_000);

  // 3. Hidden: WebDriver's Minimize Window. With no window manager to keep an icon,
  // WebKitGTK's minimise leaves the X window unmapped; the page turns hidden.
  await app.minimizeWindow();
  assert.deepEqual(await windowState(app), { hidden: true, focused: false });
  assert.deepEqual(appWindows('--onlyvisible'), [], 'the minimised window is still mapped');

  const { page, number } = await startDemoLogin(browser, server.url, PID);
  await waitFor('a notification for a hidden window', async () => daemon.notifications().length === 2, 5_000);
  // The page has the request (its long poll returned it) while the window stays hidden.
  await requestShown(app);
  assert.equal((await windowState(app)).hidden, true);

  const [earlier, shown] = daemon.notifications();
  assert.deepEqual({ ...earlier, id: shown.id }, shown, 'the same notification for every login');
  assert.equal(shown.appname, 'Nøkkel');
  // In the page's language (Bokmål), word for word from the app's Fluent file.
  assert.equal(shown.summary, appText('nb', 'app-notify-login-title'));
  assert.equal(shown.body, appText('nb', 'app-notify-login-body'));
  assert.notEqual(shown.summary, appText('en', 'app-notify-login-title'));
  assert.notEqual(shown.summary, appText('nn', 'app-notify-login-title'));

  // A second poll, through the command the page long-polls: the same request again.
  const request = await app.execute(() => window.__TAURI_INTERNALS__.invoke('pending_request', { wait: 0 }));
  assert.ok(request?.challengeId, 'the app still has the request');
  // Nothing about the login in it: not the service, the number or the identity number (a
  // notification can be read on a locked screen).
  for (const text of [shown.summary, shown.body]) {
    assert.ok(!text.includes(request.service), `"${text}" names the service`);
    assert.ok(!text.includes(number), `"${text}" holds the number`);
    assert.ok(!text.includes(PID), `"${text}" holds the identity number`);
    assert.doesNotMatch(text, /\d/);
  }
  // That poll gave no second notification.
  await pause(1_500);
  assert.equal(daemon.notifications().length, 2, 'a second poll of the same request notified again');
  assert.equal(await daemon.displayed(), 1);

  // Click it: a middle click on dunst's window, dunst's default binding for "invoke the
  // action" (do_action, close_current), which sends the app ActionInvoked "default".
  const [bubble] = xdotool('search', '--onlyvisible', '--class', '^Dunst$').split('\n').filter(Boolean);
  assert.ok(bubble, 'dunst shows its window');
  xdotool('mousemove', '--sync', '--window', bubble, '10', '10');
  xdotool('click', '2');
  await waitFor('the window back in sight', async () => {
    const state = await windowState(app);
    return !state.hidden && state.focused;
  });
  assert.deepEqual(appWindows('--onlyvisible'), [appWindow], 'the window is mapped again');
  assert.equal(xdotool('getwindowfocus'), appWindow, 'the X input focus is on the window');
  assert.equal(await daemon.displayed(), 0, 'dunst closed the clicked notification');

  // It shows the request; answering it completes the login.
  await approveWithNumber(app, number, PASSCODE);
  await page.getByRole('heading', { level: 1, name: 'Du er logget inn på demotjenesten' }).waitFor({ timeout: 30_000 });
  assert.equal(daemon.notifications().length, 2, 'answering notified again');
});
