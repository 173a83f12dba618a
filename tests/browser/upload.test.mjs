// Browser test of the explorer's upload box (`attend serve` with an image model), in Debian's chromium via playwright-core.
// Usage: node upload.test.mjs BASE_URL IMAGE BAD_FILE SHOT_DIR
// Checks that the page offers a file input and no text box, that uploading IMAGE renders the same output and overlay
// images as POST /api/explain {"file", "name"}, and that uploading BAD_FILE (not an image) shows the server's error in
// the page. Saves SHOT_DIR/upload.png. Last line: "upload test: N checks, passed" or "upload test: N checks, FAILED: why".
import { runTest } from './browser.mjs';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [base, image, bad, shotDir] = process.argv.slice(2);
if (!base || !image || !bad || !shotDir) { console.error('usage: node upload.test.mjs BASE_URL IMAGE BAD_FILE SHOT_DIR'); process.exit(2); }
await runTest('upload', async ({ page, errors, check }) => {
  await page.goto(base);
  await page.waitForSelector('body[data-state="ready"]');
  check(await page.$('#file') !== null, 'no file input');
  check(await page.$('#input') === null, 'an image model shows a text box');

  // 1) a good image: the page shows what the API says
  await page.setInputFiles('#file', image);
  await page.waitForFunction(() => document.body.dataset.state === 'ready' && document.getElementById('io-output'));
  const name = path.basename(image);
  const api = await (await fetch(new URL('api/explain', base), { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ file: readFileSync(image).toString('base64'), name }) })).json();
  check(await page.textContent('#io-output') === api.output, `the page shows '${await page.textContent('#io-output')}', the API '${api.output}'`);
  check(await page.textContent('#io-input') === api.input, `the page's input is '${await page.textContent('#io-input')}'`);
  const imgs = await page.$$eval('figure.overlay img', is => is.map(i => i.naturalWidth));
  check(imgs.length === api.images.length && imgs.every(w => w > 0), `overlays: ${imgs.length} (widths ${imgs}), the API sent ${api.images.length}`);
  check(Array.isArray(api.patch_grid), 'the API sent no patch grid');
  await page.screenshot({ path: path.join(shotDir, 'upload.png') });

  // 2) not an image: the server's message in the page, the last good views stay
  await page.setInputFiles('#file', bad);
  await page.waitForSelector('body[data-state="error"]');
  const err = await page.textContent('#error');
  check(/not a PNG, JPEG, BMP, GIF or WebP/.test(err), `bad upload: the page says '${err}'`);
  check(await page.textContent('#io-output') === api.output, 'the views of the last good upload are gone');
  check(errors.length === 0, `script errors: ${errors.join('; ')}`);
});
