// Keyboard only: the skip link comes first and lands in main; ordering a letter,
// registering and blocking Nøkkel after a lost phone can be done with Tab, typing, arrows, Enter and Space, and the focused
// control is always visibly marked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertAccessible, useNokkel } from '../lib/harness.js';
import { NB, letterCode, orderLetter, smsCode } from '../lib/flows.js';

const nokkel = useNokkel();

/** What has focus, and whether it is drawn with a visible focus indicator. */
async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    const rect = el.getBoundingClientRect();
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
    const shadow = style.boxShadow !== 'none';
    return {
      tag: el.tagName.toLowerCase(),
      id: el.id,
      text: (el.textContent ?? '').trim(),
      name: el.getAttribute('name'),
      indicator: outline || shadow,
      onScreen: rect.width > 0 && rect.height > 0 && rect.left >= 0 && rect.top >= 0 && rect.right <= innerWidth,
    };
  });
}

async function tab(page, expect) {
  await page.keyboard.press('Tab');
  const now = await focused(page);
  for (const [key, value] of Object.entries(expect)) {
    assert.equal(now[key], value, `after Tab, focus ${key}: ${JSON.stringify(now)}`);
  }
  assert.ok(now.indicator, `the focused ${now.tag}#${now.id} "${now.text}" has a visible focus indicator`);
  assert.ok(now.onScreen, `the focused ${now.tag}#${now.id} "${now.text}" is on screen`);
  return now;
}

/** Tab to the skip link (the first stop), follow it, and check focus landed in main. */
async function skipToMain(page) {
  await tab(page, { tag: 'a', text: 'Gå til hovedinnholdet' });
  await page.keyboard.press('Enter');
  const now = await focused(page);
  assert.equal(now.id, 'main', `the skip link moves focus to main: ${JSON.stringify(now)}`);
}

test('the skip link is the first tab stop, is visible when focused and moves focus to main', async (t) => {
  const page = await nokkel.newPage(t);
  await page.goto(`${nokkel.url}/`);
  await assertAccessible(page, 'front');
  const hidden = await page.getByRole('link', { name: 'Gå til hovedinnholdet' }).boundingBox();
  assert.ok(!hidden || hidden.x + hidden.width <= 0, 'the skip link is out of sight until focused');
  await skipToMain(page);
  await tab(page, { tag: 'a', text: 'Bestill aktiveringsbrev' });
});

test('ordering a letter with the keyboard alone', async (t) => {
  const page = await nokkel.newPage(t);
  await page.goto(`${nokkel.url}/`);
  await assertAccessible(page, 'front');
  await skipToMain(page);
  await tab(page, { text: 'Bestill aktiveringsbrev' });
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Bestill aktiveringsbrev' }).waitFor();
  await assertAccessible(page, 'order-1-pid');

  await skipToMain(page);
  await tab(page, { id: 'pid' });
  await page.keyboard.type('25816013758');
  await tab(page, { tag: 'button', text: 'Bestill brev' });
  await page.keyboard.press('Space');
  await page.getByRole('heading', { level: 1, name: 'Bestillingen er mottatt' }).waitFor();
  await assertAccessible(page, 'order-3-receipt');
});

test('registering as an SMS user with the keyboard alone', async (t) => {
  const page = await nokkel.newPage(t);
  const base = nokkel.url;
  const pid = '58869213835'; // D-number holder, domestic address
  await orderLetter(page, base, { pid });
  const code = await letterCode(base, pid);

  await page.goto(`${base}/register?lang=nb`);
  await assertAccessible(page, 'register-1-code');
  await skipToMain(page);
  await tab(page, { id: 'pid' });
  await page.keyboard.type(pid);
  await tab(page, { id: 'code' });
  await page.keyboard.type(code);
  await page.keyboard.press('Enter');
  await page.getByRole('group', { name: 'Hvordan vil du logge inn?' }).waitFor();
  await assertAccessible(page, 'register-2-choose');

  await skipToMain(page);
  await tab(page, { id: 'kind-app' });
  await page.keyboard.press('ArrowDown');
  assert.ok(await page.locator('#kind-sms').isChecked(), 'arrow keys move the choice');
  await tab(page, { tag: 'button', text: 'Fortsett' });
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: NB.passwordTitle }).waitFor();
  await assertAccessible(page, 'register-3-password');

  await skipToMain(page);
  await tab(page, { id: 'country' });
  assert.equal(await page.locator('#country').inputValue(), '47', '+47 is preselected');
  await tab(page, { id: 'mobile' });
  await page.keyboard.type('41 00 00 04');
  await tab(page, { id: 'password' });
  await page.keyboard.type('tre grønne epler på benken');
  await tab(page, { id: 'password2' });
  await page.keyboard.type('tre grønne epler på benken');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Bekreft mobilnummeret' }).waitFor();
  await assertAccessible(page, 'register-4-otp');

  await skipToMain(page);
  await tab(page, { id: 'otp' });
  await page.keyboard.type(await smsCode(base, '+4741000004'));
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Du er registrert' }).waitFor();
  await assertAccessible(page, 'register-5-done');
});
