// The checks themselves can fail: axe catches a known violation, and a page loaded but
// never checked fails its test. Without these, a green run could mean a dead check.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertAccessible, useNokkel } from '../lib/harness.js';

const nokkel = useNokkel();

test('axe reports contrast, a missing label and a missing lang as violations', async (t) => {
  const page = await nokkel.newPage(t);
  await page.setContent(
    '<!doctype html><html><head><title>x</title></head><body><main>' +
      '<p style="color:#aaaaaa;background:#ffffff">pale text</p>' +
      '<input type="text"></main></body></html>',
  );
  await assert.rejects(assertAccessible(page, 'bad page'), (err) => {
    for (const rule of ['color-contrast', 'label', 'html-has-lang']) {
      assert.match(err.message, new RegExp(`- ${rule} \\(`), `the report names ${rule}`);
    }
    return true;
  });
});

test('a page loaded without an axe check is reported as unchecked', async (t) => {
  const session = await nokkel.openSession();
  t.after(() => session.close());
  await session.page.goto(`${nokkel.url}/order`);
  await session.page.goto(`${nokkel.url}/register`);
  assert.deepEqual(session.unchecked(), [`${nokkel.url}/order`, `${nokkel.url}/register`]);
  await assertAccessible(session.page, 'register');
  assert.deepEqual(session.unchecked(), [`${nokkel.url}/order`], 'only the checked document is cleared');
});
