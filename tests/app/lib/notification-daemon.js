// A real notification server for the app's desktop notification (issue 11): a private D-Bus
// session bus (dbus-daemon) with dunst on it, drawing on the Xvfb display. dunst runs a
// script (record-notification.mjs) for every notification it displays, and the test reads
// what the script recorded; dunstctl (dunst's control interface on the same bus) counts the
// notifications on screen.
//
// The bus has its own configuration: no service directories, so nothing is started on
// demand (Debian's dunst package makes dunst D-Bus-activatable, which would race ours with
// the user's dunstrc) and the only notification server on the bus is the one started here.

import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stopChild } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RECORD_SCRIPT = path.join(here, 'record-notification.mjs');

function need(file, install) {
  if (!existsSync(file)) throw new Error(`${file} not found. Install it: ${install}`);
}

const busConfig = (socket) => `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;

// dunst(5) for 1.9: a section other than the special ones is a rule; one without filters
// matches every notification. `timeout = 0` keeps notifications displayed until acted on
// (a click, or dunstctl action, only reaches displayed ones). Clicks keep dunst's defaults:
// the middle button invokes the notification's action ("do_action, close_current"), the
// left one only closes it. `stack_duplicates = false`: by default
// dunst folds a notification identical to a displayed one into it, counts it and runs no
// script for it (queues_stack_duplicate), which would hide a second notification from the
// test. No dmenu and no browser: a context menu or a link must never open in a test.
const dunstConfig = `[global]
    follow = none
    idle_threshold = 0
    dmenu = /bin/false
    browser = /bin/false
    always_run_script = true
    stack_duplicates = false

[urgency_low]
    timeout = 0

[urgency_normal]
    timeout = 0

[urgency_critical]
    timeout = 0

[record]
    script = ${RECORD_SCRIPT}
`;

function firstLine(stream, child, seconds = 10) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no address from dbus-daemon after ${seconds} s`)), seconds * 1000);
    stream.on('data', (chunk) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(text.slice(0, end).trim());
      }
    });
    child.once('exit', (code) => reject(new Error(`dbus-daemon exited (${code})`)));
  });
}

/**
 * Starts a private session bus and dunst on it. `address` goes into the app's
 * DBUS_SESSION_BUS_ADDRESS; `notifications()` lists what dunst displayed so far
 * ({ id, appname, summary, body, urgency, category }), oldest first.
 */
export async function startNotificationDaemon() {
  need('/usr/bin/dbus-daemon', 'apt-get install dbus');
  need('/usr/bin/dunst', 'apt-get install dunst');
  if (!process.env.DISPLAY) throw new Error('dunst needs an X display: run under xvfb-run -a');
  const dir = mkdtempSync(path.join(tmpdir(), 'nokkel-app-e2e-notify-'));
  const record = path.join(dir, 'notifications.jsonl');
  writeFileSync(path.join(dir, 'bus.conf'), busConfig(path.join(dir, 'bus')));
  writeFileSync(path.join(dir, 'dunstrc'), dunstConfig);

  let log = '';
  const bus = spawn('dbus-daemon', ['--config-file', path.join(dir, 'bus.conf'), '--nofork', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  bus.stderr.on('data', (c) => (log += c));
  const address = await firstLine(bus.stdout, bus);

  const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: address, NOKKEL_E2E_NOTIFICATIONS: record };
  const dunst = spawn('dunst', ['-config', path.join(dir, 'dunstrc')], { stdio: ['ignore', 'pipe', 'pipe'], env });
  dunst.stdout.on('data', (c) => (log += c));
  dunst.stderr.on('data', (c) => (log += c));

  const dunstctl = async (...args) => (await promisify(execFile)('dunstctl', args, { env })).stdout.trim();
  const stop = async () => {
    await stopChild(dunst);
    await stopChild(bus);
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready once dunst owns org.freedesktop.Notifications and answers on its control interface.
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      await dunstctl('is-paused');
      break;
    } catch (e) {
      if (dunst.exitCode !== null || Date.now() > until) {
        await stop();
        throw new Error(`dunst did not come up on the private bus:\n${log}`, { cause: e });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  return {
    address,
    notifications() {
      if (!existsSync(record)) return [];
      // Whole lines only: the script may be halfway through one.
      return readFileSync(record, 'utf8')
        .split('\n')
        .slice(0, -1)
        .map((line) => JSON.parse(line));
    },
    /** How many notifications dunst displays now. */
    async displayed() {
      return Number(await dunstctl('count', 'displayed'));
    },
    log: () => log,
    stop,
  };
}
