// Browser test of the long-context view of `attend serve` on a recall model (attend train recall), in Debian's chromium.
// Usage: node longcontext.test.mjs BASE_URL SHOT_DIR INPUT
// Checks that the page draws one strip per layer × head for the API's rows, names the API's retrieval head and marks
// its strip, labels each strip's top key as the API does, that the zoom buttons and the wheel change the key range and
// "zoom to the answer" brings the retrieval head's top key into a 64-key window; saves SHOT_DIR/long-context.png.
// Last line: "long-context test: N checks, passed" or "… FAILED: why".
import { runTest, explainText } from './browser.mjs';
import path from 'node:path';

const [base, shotDir, input] = process.argv.slice(2);
if (!base || !shotDir || !input) { console.error('usage: node longcontext.test.mjs BASE_URL SHOT_DIR INPUT'); process.exit(2); }
await runTest('long-context', async ({ page, errors, check }) => {
  const api = await explainText(page, base, input);
  const lc = api.long;
  check(lc && lc.rows.length > 0 && api.views.length === 0, 'the API returned no long-context rows (or L×S maps it should not have)');
  check(lc.tokens.length >= 4096, `the input has ${lc.tokens.length} tokens, want ≥ 4,096`);
  const strips = await page.$$eval('canvas.lc-strip', cs => cs.map(c => [c.dataset.label, +c.dataset.head, +c.dataset.top]));
  check(strips.length === lc.rows.length, `${strips.length} strips for ${lc.rows.length} rows`);
  lc.rows.forEach((r, n) => check(strips[n][0] === r.label && strips[n][1] === r.head && strips[n][2] === r.top[0][0],
    `strip ${n}: ${strips[n]} but the API's row is ${r.label} head ${r.head}, top key ${r.top[0][0]}`));
  for (const r of lc.rows) check(Math.abs(r.weights.reduce((a, b) => a + b, 0) - 1) < 1e-3, `${r.label} head ${r.head}: weights sum to ${r.weights.reduce((a, b) => a + b, 0)}`);
  check(lc.retrieval !== null, 'the API found no retrieval head');
  const named = await page.textContent('#lc-retrieval');
  check(named.includes(`${lc.retrieval.label} head ${lc.retrieval.head}`), `the page names '${named}'`);
  const marked = await page.$$eval('.lc-row.retrieval canvas', cs => cs.map(c => [c.dataset.label, +c.dataset.head]));
  check(marked.length === 1 && marked[0][0] === lc.retrieval.label && marked[0][1] === lc.retrieval.head, `marked strips: ${JSON.stringify(marked)}`);
  const firsts = await page.$$eval('.lc-row', rows => rows.map(r => +(r.querySelector('.lc-key.first')?.dataset.key ?? -1)));
  lc.rows.forEach((r, n) => check(firsts[n] === r.top[0][0], `strip ${n} labels key ${firsts[n]} first, the API's top key is ${r.top[0][0]}`));
  const range = async () => page.$eval('#lc-range', e => [+e.dataset.lo, +e.dataset.hi]);
  check(JSON.stringify(await range()) === JSON.stringify([0, lc.tokens.length]), `the initial range is ${await range()}`);
  await page.click('#lc-in');
  const [lo1, hi1] = await range();
  check(hi1 - lo1 <= lc.tokens.length / 2 + 1, `zoom in: range ${lo1}–${hi1}`);
  await page.hover('canvas.lc-strip');
  await page.mouse.wheel(0, -300);
  const [lo2, hi2] = await range();
  check(hi2 - lo2 < hi1 - lo1, `wheel: range ${lo2}–${hi2} after ${lo1}–${hi1}`);
  await page.click('#lc-top');
  const [lo3, hi3] = await range();
  const key = lc.rows.find(r => r.label === lc.retrieval.label && r.head === lc.retrieval.head).top[0][0];
  check(hi3 - lo3 === 64 && key >= lo3 && key < hi3, `zoom to the answer: range ${lo3}–${hi3}, top key ${key}`);
  const shown = await page.$$eval('.lc-row.retrieval .lc-key', ks => ks.map(k => k.textContent));
  check(shown.some(t => t.startsWith(`${lc.tokens[key]}@${key} `)), `the retrieval strip labels ${JSON.stringify(shown)}, not ${lc.tokens[key]}@${key}`);
  await page.screenshot({ path: path.join(shotDir, 'long-context-zoom.png'), fullPage: true });
  await page.click('#lc-all');
  await page.screenshot({ path: path.join(shotDir, 'long-context.png'), fullPage: true });

  await page.fill('#input', 'length=99999999');
  await page.click('#go');
  await page.waitForSelector('body[data-state="error"]');
  const err = await page.textContent('#error');
  check(/this model reads sequences of/.test(err), `bad length: the page says '${err}'`);
  check(errors.length === 0, `script errors: ${errors.join('; ')}`);
});
