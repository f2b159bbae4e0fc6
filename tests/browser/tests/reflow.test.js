// WCAG 1.4.10 Reflow: at 320 CSS pixels wide (a 1280 px window at 400 % zoom) the pages
// need no horizontal scrolling and nothing is pushed past the right edge. WCAG 1.4.12
// Text spacing: with the spacing the criterion names, nothing overflows either.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertAccessible, checkPage, useNokkel } from '../lib/harness.js';
import { NB, letterCode, orderLetter } from '../lib/flows.js';

const nokkel = useNokkel();
const NARROW = { width: 320, height: 640 };

// The text-spacing overrides of WCAG 2.1 success criterion 1.4.12.
const TEXT_SPACING = `* { line-height: 1.5 !important; letter-spacing: 0.12em !important;
  word-spacing: 0.16em !important; } p { margin-bottom: 2em !important; }`;

/** Elements sticking out past the right edge of the viewport, and the page's scroll width. */
async function overflow(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const sticking = [];
    for (const el of document.body.querySelectorAll('*')) {
      const rect = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      // Visually hidden helpers (1px clipped boxes, the off-screen skip link) do not count.
      if (rect.width <= 1 || rect.right <= 0 || style.visibility === 'hidden') continue;
      if (rect.right > width + 0.5) {
        sticking.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} right=${Math.round(rect.right)}`);
      }
    }
    return { scrollWidth: document.documentElement.scrollWidth, width, sticking };
  });
}

async function assertReflows(page, label) {
  const { scrollWidth, width, sticking } = await overflow(page);
  assert.ok(scrollWidth <= width, `${label}: horizontal scrolling at ${width}px (scrollWidth ${scrollWidth})`);
  assert.deepEqual(sticking, [], `${label}: elements past the right edge at ${width}px`);
}

test('ordering pages reflow at 320 CSS px', async (t) => {
  const page = await nokkel.newPage(t, { viewport: NARROW });
  const base = nokkel.url;
  await page.goto(`${base}/`);
  await assertAccessible(page, 'front 320');
  await assertReflows(page, 'front');
  await page.goto(`${base}/order?lang=nb`);
  await assertAccessible(page, 'order 320');
  await assertReflows(page, 'order');

  await page.getByLabel(NB.pidLabel).fill('1483851405');
  await page.getByRole('button', { name: NB.orderSubmit }).click();
  await page.getByRole('alert').waitFor();
  await assertAccessible(page, 'order error 320');
  await assertReflows(page, 'order with error');

  await page.getByLabel(NB.pidLabel).fill('30919413820');
  await page.getByRole('button', { name: NB.orderSubmit }).click();
  await page.getByRole('heading', { level: 1, name: NB.receiptTitle }).waitFor();
  await checkPage(page, 'order-3-receipt-320', { sizes: [] });
  await assertReflows(page, 'receipt');
});

test('registration pages reflow at 320 CSS px', async (t) => {
  const page = await nokkel.newPage(t, { viewport: NARROW });
  const base = nokkel.url;
  await orderLetter(page, base, { pid: '02877213709' });
  const code = await letterCode(base, '02877213709');

  await page.goto(`${base}/register?lang=nb`);
  await assertAccessible(page, 'register 320');
  await assertReflows(page, 'register step 1');
  await page.getByLabel(NB.pidLabel).fill('02877213709');
  await page.getByLabel(NB.codeLabel, { exact: true }).fill('00000-00000-00000');
  await page.getByRole('button', { name: NB.continue }).click();
  await page.getByRole('alert').waitFor();
  await assertAccessible(page, 'register error 320');
  await assertReflows(page, 'register step 1 with error');

  await page.getByLabel(NB.codeLabel, { exact: true }).fill(code);
  await page.getByRole('button', { name: NB.continue }).click();
  await page.getByRole('group', { name: NB.chooseTitle }).waitFor();
  await assertAccessible(page, 'choose 320');
  await assertReflows(page, 'register step 2');
  await page.getByRole('radio', { name: NB.chooseSms }).check();
  await page.getByRole('button', { name: NB.continue }).click();
  await page.getByRole('heading', { level: 1, name: NB.passwordTitle }).waitFor();
  await assertAccessible(page, 'password 320');
  await assertReflows(page, 'register step 3');
  // The longest country name in the list must fit too.
  await page.getByLabel(NB.countryLabel).selectOption('44');
  await assertReflows(page, 'register step 3, United Kingdom chosen');
  await page.getByRole('textbox', { name: NB.mobileLabel }).fill('1');
  await page.getByLabel(NB.passwordLabel, { exact: true }).fill('lange ord i et godt passord');
  await page.getByLabel(NB.passwordAgainLabel).fill('lange ord i et godt passord');
  await page.getByRole('button', { name: NB.continue }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByRole('alert').getByRole('link').getAttribute('href'), '#mobile');
  await assertAccessible(page, 'mobile error 320');
  await assertReflows(page, 'register step 3 with mobile error');

  await page.getByLabel(NB.countryLabel).selectOption('47');
  await page.getByRole('textbox', { name: NB.mobileLabel }).fill('41000006');
  await page.getByLabel(NB.passwordLabel, { exact: true }).fill('passord');
  await page.getByRole('button', { name: NB.continue }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByRole('alert').getByRole('link').getAttribute('href'), '#password');
  await assertAccessible(page, 'password error 320');
  await assertReflows(page, 'register step 3 with password error');

  // The demo inbox: wide tables scroll inside their own box, the page itself does not.
  for (const inbox of ['/dev/letters', '/dev/sms']) {
    await page.goto(`${base}${inbox}`);
    await assertAccessible(page, `${inbox} 320`);
    const { scrollWidth, width } = await overflow(page);
    assert.ok(scrollWidth <= width, `${inbox}: horizontal scrolling at ${width}px (scrollWidth ${scrollWidth})`);
  }
});

test('lost-phone pages reflow at 320 CSS px', async (t) => {
  const page = await nokkel.newPage(t, { viewport: NARROW });
  await page.goto(`${nokkel.url}/lost?lang=nb`);
  await assertAccessible(page, 'lost 320');
  await assertReflows(page, 'lost');
  await page.getByLabel(NB.pidLabel).fill('1');
  await page.getByRole('button', { name: 'Send meg en kode' }).click();
  await page.getByRole('alert').waitFor();
  await assertAccessible(page, 'lost error 320');
  await assertReflows(page, 'lost with error');
  await page.getByLabel(NB.pidLabel).fill('30919413820');
  await page.getByRole('button', { name: 'Send meg en kode' }).click();
  await page.getByLabel('Kode', { exact: true }).waitFor();
  await assertAccessible(page, 'lost code 320');
  await assertReflows(page, 'lost code');
  await page.getByLabel('Kode', { exact: true }).fill('000000');
  await page.getByRole('button', { name: 'Sperr Nøkkel' }).click();
  await page.getByRole('alert').waitFor();
  await assertAccessible(page, 'lost code error 320');
  await assertReflows(page, 'lost code with error');
});

test('text spacing (1.4.12) does not make content overflow, at phone width', async (t) => {
  const page = await nokkel.newPage(t, { viewport: { width: 390, height: 844 } });
  for (const path of ['/', '/order?lang=nb', '/register?lang=nb', '/order?lang=en', '/register?lang=nn', '/lost?lang=nb']) {
    await page.goto(`${nokkel.url}${path}`);
    await assertAccessible(page, path);
    await page.addStyleTag({ content: TEXT_SPACING });
    await assertReflows(page, `${path} with text spacing`);
  }
});

test('the reflow check itself notices a box wider than the screen', async (t) => {
  const page = await nokkel.newPage(t, { viewport: NARROW });
  await page.setContent('<!doctype html><html lang="en"><body><div style="width:400px">wide</div></body></html>');
  await assert.rejects(assertReflows(page, 'too wide'), /horizontal scrolling at 320px/);
  await page.setContent('<!doctype html><html lang="en"><body><div style="overflow:hidden"><p style="width:400px">clipped</p></div></body></html>');
  await assert.rejects(assertReflows(page, 'clipped'), /elements past the right edge/);
});
