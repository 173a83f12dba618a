// What the browser tests share: Debian's chromium, headless and offline, and a page that collects uncaught page errors.
import { chromium } from 'playwright-core';

export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** A 1280×900 page with a 30 s default timeout; its uncaught errors are pushed to `errors`. */
export async function openPage(browser, errors) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(30000);
  page.on('pageerror', e => errors.push(e.message));
  return page;
}
