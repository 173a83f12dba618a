// What the browser tests share: Debian's chromium, headless and offline, and a page that collects uncaught page errors.
import { chromium } from 'playwright-core';

export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** A 1280×900 page with a 30 s default timeout; its uncaught errors and Content-Security-Policy violations are pushed to `errors`. */
export async function openPage(browser, errors) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(30000);
  page.on('pageerror', e => errors.push(e.message));
  page.on('console', m => { if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) errors.push(m.text()); });   // a CSP violation
  return page;
}

/**
 * Runs one browser test: body({ browser, page, errors, check }) on a fresh page, where check(ok, what) counts a check
 * or fails the test with `what`; a page's uncaught error fails it too (body reads `errors` at its end). Prints the
 * last line "NAME test: N checks, passed" or "NAME test: N checks, FAILED: why" and exits 0 or 1.
 */
export async function runTest(name, body) {
  let checks = 0, failure = null;
  const check = (ok, what) => { if (!ok) throw new Error(what); checks++; };
  const browser = await launch();
  try {
    const errors = [];
    const page = await openPage(browser, errors);
    await body({ browser, page, errors, check });
  } catch (e) {
    failure = e.message;
  } finally {
    await browser.close();
  }
  console.log(failure ? `${name} test: ${checks} checks, FAILED: ${failure}` : `${name} test: ${checks} checks, passed`);
  process.exit(failure ? 1 : 0);
}

/** Opens the explorer at base, types input, waits until the page shows its explanation; returns POST /api/explain's. */
export async function explainText(page, base, input) {
  await page.goto(base);
  await page.waitForSelector('body[data-state="ready"]');
  await page.fill('#input', input);
  await page.click('#go');
  await page.waitForFunction(t => document.body.dataset.state === 'ready' && document.getElementById('io-input')?.textContent === t, input);
  return (await fetch(new URL('api/explain', base), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ input }) })).json();
}
