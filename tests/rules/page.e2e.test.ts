import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveService, type LiveService } from '../../src/live/standalone.js';
import { network, order, TEST_AUTH_CONFIG, TEST_KEY } from '../support/app.js';

// The business-rules page (web/rules.html) in real headless Chromium (Debian's chromium via
// playwright-core, launched as tests/live/e2e.test.ts does): a business user views the active
// table, opens a draft, edits a cell, runs its tests, activates it, and rolls back; the service's
// decisions follow each step.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let svc: LiveService;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk (see .ci/run)`);
  svc = await startLiveService({ net: network(), config: TEST_AUTH_CONFIG });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await svc?.close();
});

/** The warehouse a key-account order of SAIC ships from now. */
async function saicShipsFrom(): Promise<string[]> {
  const r = await fetch(`${svc.url}/v1/allocate`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': TEST_KEY }, body: JSON.stringify(order({ customerId: 'KA-SAIC-01', placedAt: undefined, promisedBy: new Date(Date.now() + 2 * 86_400_000).toISOString() })) });
  return ((await r.json()) as { shipments: { warehouseId: string }[] }).shipments.map((s) => s.warehouseId);
}

const text = (page: Page, sel: string) => page.locator(sel).innerText();

describe('rules page in Chromium', () => {
  it('views the active table, edits a draft cell, runs its tests, activates, rolls back', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      await page.goto(`${svc.url}/web/rules.html#key=${TEST_KEY}`, { waitUntil: 'domcontentloaded' });
      // The active version's tables, the RECY- rule and its note among them.
      await page.locator('#active-tables [data-table="core-return"]').waitFor();
      expect(await text(page, '#active')).toContain('active v1');
      expect(await text(page, '#active-tables')).toContain('请收旧件');
      expect(await text(page, '#active-tables')).toContain('startsWith($, "RECY-")');
      expect(await saicShipsFrom()).toEqual(['SH01']);

      // A draft from the active version; a malformed cell is refused on save with the table named.
      await page.click('#new-draft');
      await page.locator('#draft-tables input').first().waitFor();
      expect(await text(page, '#draft-title')).toContain('v2');
      const cell = page.locator('#draft-tables input[data-node="key-accounts"][data-row="0"][data-col="p_warehouseId"]');
      expect(await cell.inputValue()).toBe('"SH01"');
      const cond = page.locator('#draft-tables input[data-node="key-accounts"][data-row="0"][data-col="customer"]');
      await cond.fill('startsWith($, ');
      await page.click('#save');
      await page.locator('#draft-msg.error').waitFor();
      expect(await text(page, '#draft-msg')).toMatch(/DSP_RULESET_INVALID: node key-accounts .*malformed/);

      // The real edit: SAIC ships from Suzhou. Saved, tested, activated.
      await cond.fill('"KA-SAIC-01"');
      await cell.fill('"SZ01"');
      await page.click('#save');
      await page.locator('#draft-msg', { hasText: 'saved' }).waitFor();
      await page.click('#test');
      await page.locator('#tests tbody tr').first().waitFor();
      expect(await text(page, '#draft-msg')).toMatch(/all 5 tests pass/);
      expect(await saicShipsFrom()).toEqual(['SH01']);
      await page.click('#activate');
      await page.locator('#active', { hasText: 'active v2' }).waitFor();
      expect(await text(page, '#active-tables')).toContain('"SZ01"');
      expect(await saicShipsFrom()).toEqual(['SZ01']);

      // Roll back: version 1 again, in the page and in the decisions; the audit shows every step.
      await page.click('#rollback');
      await page.locator('#active', { hasText: 'active v1' }).waitFor();
      expect(await saicShipsFrom()).toEqual(['SH01']);
      expect(await text(page, '#rollback-msg')).toContain('rolled back to v1 (was v2)');
      const audit = await text(page, '#audit');
      for (const what of ['create', 'draft', 'update', 'activate', 'rollback']) expect(audit).toContain(what);
      expect(audit).toContain('test-all');
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
