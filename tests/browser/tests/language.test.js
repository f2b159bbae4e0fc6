// The language switcher: Bokmål, Nynorsk and English, chosen by a visible switcher,
// remembered by a cookie, first guessed from Accept-Language.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertAccessible, checkPage, useNokkel } from '../lib/harness.js';

const nokkel = useNokkel();

async function headings(page) {
  return page.getByRole('heading').allInnerTexts();
}

test('switching to Nynorsk and English translates the page and updates lang', async (t) => {
  const page = await nokkel.newPage(t);
  await page.goto(`${nokkel.url}/`);
  await assertAccessible(page, 'front nb');
  const switcher = page.getByRole('navigation', { name: 'Språk' });
  assert.equal(await switcher.getByRole('link', { name: 'Bokmål' }).getAttribute('aria-current'), 'true');
  assert.deepEqual(await headings(page), ['Kom i gang med Nøkkel', 'Bestill aktiveringsbrev', 'Jeg har fått brevet', 'Mistet telefonen?']);

  await switcher.getByRole('link', { name: 'Nynorsk' }).click();
  await page.getByRole('heading', { name: 'Eg har fått brevet' }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'nn');
  assert.match(await page.getByRole('main').innerText(), /loggar du inn på offentlege tenester/);
  assert.equal(await page.getByRole('link', { name: 'Nynorsk' }).getAttribute('aria-current'), 'true');
  await assertAccessible(page, 'front nn');

  // The switcher keeps the person on the page they are on.
  await page.getByRole('link', { name: 'Bestill aktiveringsbrev' }).click();
  await page.getByRole('heading', { level: 1 }).waitFor();
  await assertAccessible(page, 'order nn');
  await page.getByRole('navigation', { name: 'Språk' }).getByRole('link', { name: 'English' }).click();
  await page.getByRole('heading', { level: 1, name: 'Order an activation letter' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/order');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.getByRole('link', { name: 'Skip to main content' }).count(), 1);
  assert.ok((await page.title()).startsWith('Order an activation letter'), await page.title());
  await checkPage(page, 'order-1-pid-en', { sizes: ['phone'] });

  // Each language name is marked up in its own language, so screen readers say it right.
  const langs = await page
    .getByRole('navigation', { name: 'Language' })
    .getByRole('link')
    .evaluateAll((as) => as.map((a) => [a.textContent.trim(), a.getAttribute('lang')]));
  assert.deepEqual(langs, [['Bokmål', 'nb'], ['Nynorsk', 'nn'], ['English', 'en']]);

  // The choice is remembered: a page opened without ?lang stays in English.
  await page.goto(`${nokkel.url}/register`);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.getByRole('heading', { level: 1, name: 'Register with your activation code' }).waitFor();
  await assertAccessible(page, 'register en');
});

test('English receipt', async (t) => {
  const page = await nokkel.newPage(t, { locale: 'en-GB' });
  await page.goto(`${nokkel.url}/order`);
  await assertAccessible(page, 'order en');
  await page.getByLabel('National identity number or D-number').fill('05859013831'); // lives abroad
  await page.getByRole('button', { name: 'Order letter' }).click();
  await page.getByRole('heading', { level: 1, name: 'We have received your order' }).waitFor();
  assert.match(await page.getByRole('main').innerText(), /as long as your order meets the requirements/);
  await checkPage(page, 'order-3-receipt-en');
});

test('Accept-Language picks Nynorsk on the first visit', async (t) => {
  const page = await nokkel.newPage(t, { locale: 'nn-NO' });
  await page.goto(`${nokkel.url}/register`);
  assert.equal(await page.getAttribute('html', 'lang'), 'nn');
  await page.getByRole('link', { name: 'Gå til hovudinnhaldet' }).waitFor({ state: 'attached' });
  await assertAccessible(page, 'register nn');
});
