// Browser test of `attend serve` (the attention explorer) and of explain.html, in Debian's chromium via playwright-core.
// Usage: node explorer.test.mjs BASE_URL EXPLAIN_HTML SHOT_DIR INPUT
// Checks that the weights drawn in the head view (every line's data-w and opacity, every layer and head) equal the
// JSON API's for the same input, that the model view has a map per layer × head, that bad input shows an error in the
// page; saves SHOT_DIR/explorer.png and SHOT_DIR/head-view.png. Last line: "browser test: N checks, passed" or "… FAILED: why".
import { runTest, explainText } from './browser.mjs';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [base, explainHtml, shotDir, input] = process.argv.slice(2);
if (!base || !explainHtml || !shotDir || !input) { console.error('usage: node explorer.test.mjs BASE_URL EXPLAIN_HTML SHOT_DIR INPUT'); process.exit(2); }
// Every line of the head view for every layer and head, compared with the API's weights.
async function compareHeadView(page, data, where, check) {
  for (let v = 0; v < data.views.length; v++) {
    const view = data.views[v];
    await page.selectOption('#hv-layer', String(v));
    for (let n = 0; n < view.heads.length; n++) {
      await page.selectOption('#hv-head', String(n));
      await page.waitForSelector(`svg.head-view[data-view="${v}"][data-head="${n}"]`);
      const lines = await page.$$eval('svg.head-view line', ls => ls.map(l => [+l.dataset.h, +l.dataset.q, +l.dataset.k, +l.dataset.w, +l.getAttribute('stroke-opacity')]));
      check(lines.length === view.queries.length * view.keys.length, `${where}: ${view.label} head ${n}: ${lines.length} lines, want ${view.queries.length}×${view.keys.length}`);
      let worst = 0;
      for (const [h, q, k, w, opacity] of lines) {
        check(h === view.heads[n], `${where}: ${view.label}: a line of head ${h} in head ${view.heads[n]}'s view`);
        const want = view.weights[n][q][k];
        worst = Math.max(worst, Math.abs(w - want), Math.abs(opacity - want));
      }
      check(worst <= 1e-7, `${where}: ${view.label} head ${view.heads[n]}: drawn weights differ from the API's by ${worst}`);
    }
  }
}

await runTest('browser', async ({ browser, page, errors, check }) => {
  // 1) the explorer: type the input, wait for the views, compare with POST /api/explain
  const api = await explainText(page, base, input);
  check(api.views && api.views.length > 0, 'the API returned no views');
  check(await page.textContent('#io-output') === api.output, `the page shows output '${await page.textContent('#io-output')}', the API '${api.output}'`);
  const cells = await page.$$eval('#model-view .cell canvas', cs => cs.length);
  check(cells === api.views.reduce((s, v) => s + v.heads.length, 0), `model view: ${cells} maps`);
  await page.selectOption('#hv-layer', String(api.views.length - 1));
  await page.screenshot({ path: path.join(shotDir, 'explorer.png') });
  await compareHeadView(page, api, 'explorer', check);

  // 2) bad input: a clear error in the page, the views of the last good input stay
  await page.fill('#input', '§§§');
  await page.click('#go');
  await page.waitForSelector('body[data-state="error"]');
  const err = await page.textContent('#error');
  check(/not in the model/.test(err), `bad input: the page says '${err}'`);

  // 3) explain.html, opened from disk: the same head view from the embedded JSON
  const file = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  file.on('pageerror', e => errors.push(e.message));
  await file.route('**/*', r => r.request().url().startsWith('file:') ? r.continue() : r.abort());   // offline: nothing else may load
  await file.goto(pathToFileURL(path.resolve(explainHtml)).href);
  await file.waitForSelector('body[data-state="ready"]');
  const embedded = await file.evaluate(() => window.attendData);
  await compareHeadView(file, embedded, 'explain.html', check);
  await file.selectOption('#hv-layer', String(embedded.views.length - 1));
  await file.selectOption('#hv-head', '-1');
  await (await file.$('#head-view')).screenshot({ path: path.join(shotDir, 'head-view.png') });
  check(errors.length === 0, `script errors: ${errors.join('; ')}`);
});
