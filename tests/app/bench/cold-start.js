// Cold start of the desktop app to its first screen, measured through tauri-driver:
//   xvfb-run -a node tests/app/bench/cold-start.js [runs]
// For each run, a fresh app process with a fresh state folder; prints the time from asking
// WebKitWebDriver for a session (which starts the app) until the first screen's heading is
// in the page (an upper bound: it includes the driver's own start-up), and the time from
// the page's navigation start to the first screen (the app's `nokkel-first-screen` mark). Not a test: speed
// targets are measured, never asserted.
import { openApp } from '../lib/harness.js';

const runs = Number(process.argv[2] ?? 5);
const totals = [];
const inPage = [];
for (let i = 0; i < runs; i += 1) {
  const before = Date.now();
  const session = await openApp({ NOKKEL_TEST_SERVER_URL: 'http://127.0.0.1:9' });
  const { app } = session;
  await app.waitUntil(async () => (await app.$('main h1').isExisting()), { timeout: 30_000, interval: 10 });
  totals.push(Date.now() - before);
  inPage.push(
    await app.execute(() => {
      const mark = performance.getEntriesByName('nokkel-first-screen')[0];
      return mark ? Math.round(mark.startTime) : -1;
    }),
  );
  await session.stop();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({ runs, session_to_first_screen_ms: totals, median_ms: median(totals), page_ms: inPage, page_median_ms: median(inPage) }));
