import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reoptimization } from '../../src/allocate/reoptimized.js';
import type { Decision } from '../../src/domain/schemas.js';
import { toIsoWithOffset } from '../../src/domain/time.js';
import { startLiveService, type LiveService } from '../../src/live/standalone.js';
import { MemoryStore } from '../../src/store/memory.js';
import { network, PLACES, TEST_AUTH_CONFIG, TEST_KEY, withKey } from '../support/app.js';

/**
 * The live map's KPI tiles for merging, re-optimisation and lots (issue 21, item 5), in real
 * headless Chromium: three orders of one customer to one address merge, an order ships units of a
 * near-expiry lot, a re-optimisation move is published, and lots expired or too short-lived sit in
 * stock. The tiles must show what the decisions and the stock say, through the kpi messages and
 * again through a fresh page's snapshot; a screenshot of the page is saved (its path is printed).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOT_DIR = process.env.LIVE_SCREENSHOT_DIR ?? join(tmpdir(), 'dispatchd-live');
const DAY = 86_400_000;
const TZ = 480;

async function until(page: Page, expr: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!(await page.evaluate(expr))) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the tile shows `text`; fails with what it shows instead. */
async function tile(page: Page, id: string, text: string): Promise<void> {
  try {
    await until(page, `document.getElementById(${JSON.stringify(id)})?.textContent === ${JSON.stringify(text)}`, 20_000);
  } catch {
    expect(await page.locator(`#${id}`).textContent(), id).toBe(text);
  }
}

let svc: LiveService;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk (see .ci/run)`);
  // The bundled stock without lots (the service would split shelf-life stock into dated lots):
  // only the lots this test receives exist, so the written-off figure is known here.
  svc = await startLiveService({ net: network(), store: new MemoryStore(network().network.stock), feedRate: 0, config: TEST_AUTH_CONFIG });
  withKey(svc.app);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--enable-unsafe-swiftshader', '--use-angle=swiftshader'],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await svc?.close();
});

describe('live map KPI tiles: merging, re-optimisation, near-expiry and written-off stock', () => {
  it('shows the figures the decisions and the stock give, live and in a snapshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && !/favicon/.test(m.text())) errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${svc.url}/#key=${TEST_KEY}`, { waitUntil: 'domcontentloaded' });
    await until(page, 'window.__dispatchd?.ready === true', 30_000);
    // Nothing yet: no group, no move, no near-expiry unit, nothing written off.
    await tile(page, 'kpi-merge', '0 组 · ¥0.00');
    await tile(page, 'kpi-wo', '0 件 · ¥0.00');

    const app = svc.app;
    const now = Date.now();
    const iso = (ms: number) => toIsoWithOffset(ms, TZ);
    const day = (ms: number) => iso(ms).slice(0, 10);
    const post = async (body: object) => {
      const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: body });
      expect(r.statusCode, r.body).toBe(200);
      return r.json<Decision>();
    };
    const events = async (list: object[]) => {
      const r = await app.inject({ method: 'POST', url: '/v1/stock/events', payload: { events: list } });
      expect(r.json<{ results: { status: string }[] }>().results.map((x) => x.status)).toEqual(list.map(() => 'applied'));
    };

    // Lots of BFL-0001 (365 days at least at delivery) at SH01 only: expired, too short, near its
    // last sellable day (10 days to go: near expiry), fresh.
    const BFL = 'BFL-0001';
    const zero = network().warehouses.map((w) => ({ warehouseId: w.id, sku: BFL, onHand: 0 }));
    expect((await app.inject({ method: 'PUT', url: '/v1/stock', payload: { items: zero } })).statusCode).toBe(200);
    const lot = (name: string, expiresMs: number, qty: number) => ({ type: 'receipt', warehouseId: 'SH01', sku: BFL, lot: name, expiresOn: day(expiresMs), qty });
    await events([lot('EXP', now - 10 * DAY, 5), lot('SHORT', now + 100 * DAY, 7), lot('NEAR', now + 375 * DAY, 10), lot('FRESH', now + 900 * DAY, 20)]);

    // Three orders of one customer to one address within minutes: one waybill, a merged group.
    const dest = { ...PLACES.shanghaiPeoplesSquare, address: '上海市黄浦区人民大道200号' };
    const promisedBy = iso(now + 2 * DAY);
    const merged: Decision[] = [];
    for (let i = 0; i < 3; i++) {
      merged.push(await post({ orderId: `E2E-KPI-M${i}`, customerId: 'C-E2E-MERGE', placedAt: iso(now - (3 - i) * 60_000), promisedBy, destination: dest, lines: [{ sku: 'BRK-0001', qty: 2 + i }] }));
    }
    const reasons = merged.flatMap((d) => d.reasons);
    expect(reasons.filter((r) => r.code === 'MERGED_GROUP')).toHaveLength(1);
    const saved = reasons.filter((r) => r.code === 'JOINED_OPEN_SHIPMENT').reduce((n, r) => n + (r.costDelta ?? 0), 0);
    expect(saved).toBeGreaterThan(0);

    // An order of another customer takes 3 units of the near-expiry lot (earliest eligible expiry first).
    const lots = await post({ orderId: 'E2E-KPI-LOT', customerId: 'C-E2E-LOTS', placedAt: iso(now), promisedBy, destination: { ...PLACES.suzhouCentre, address: '苏州市姑苏区人民路1号' }, lines: [{ sku: BFL, qty: 3 }] });
    expect(lots.shipments.flatMap((s) => s.lines.flatMap((l) => (l.lots ?? []).map((x) => `${x.lot}x${x.qty}${x.nearExpiry === true ? ' near' : ''}`)))).toEqual(['NEARx3 near']);

    // A re-optimisation move of that order, as the job reports it to its listeners (the job itself is tested in tests/reoptimize).
    const s0 = lots.shipments[0]!;
    const move: Reoptimization = {
      at: iso(Date.now()),
      code: 'REOPTIMIZED',
      detail: 'moved to a cheaper plan before pick-up',
      from: [{ warehouseId: s0.warehouseId, courierId: s0.courierId, trackingNumber: s0.trackingNumber, eta: s0.eta, moneyCny: s0.cost.freight + 3.5 }],
      shipments: lots.shipments,
      totalCost: lots.totalCost,
      savingCny: 3.5,
      reroutesBefore: 0,
    };
    for (const l of svc.svc.reoptimizer.listeners) l(lots.orderId, move);

    // Written off now: EXP and SHORT, 12 units at BFL-0001's list price.
    const price = network().skuByCode.get(BFL)!.priceCny;
    const expected = {
      'kpi-merge': `1 组 · ¥${saved.toFixed(2)}`,
      'kpi-reopt': '1 件 · ¥3.50',
      'kpi-near': '3 件',
      'kpi-wo': `12 件 · ¥${(12 * price).toFixed(2)}`,
    };
    for (const [id, text] of Object.entries(expected)) await tile(page, id, text);
    // /v1/kpi says the same of the stock written off.
    expect((await app.inject({ method: 'GET', url: '/v1/kpi' })).json()).toMatchObject({ writtenOffUnits: 12, writtenOffValueCny: 12 * price, mergedGroups: 1, nearExpiryUnitsShipped: 3 });

    // The tiles fit their panel: nothing overflows its tile.
    const overflow = await page.evaluate(`[...document.querySelectorAll('.kpi')].filter((k) => k.scrollWidth > k.clientWidth + 1).map((k) => k.textContent)`);
    expect(overflow).toEqual([]);
    await page.waitForTimeout(500);
    mkdirSync(SHOT_DIR, { recursive: true });
    const shot = join(SHOT_DIR, 'live-map-kpis.png');
    await page.screenshot({ path: shot });
    await page.locator('.kpis').screenshot({ path: join(SHOT_DIR, 'live-map-kpis-tiles.png') });
    console.log(`live map KPI screenshot: ${shot}`);

    // A map that joins now gets the same figures from its snapshot.
    const fresh = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    fresh.on('pageerror', (e) => errors.push(String(e)));
    await fresh.goto(`${svc.url}/#key=${TEST_KEY}`, { waitUntil: 'domcontentloaded' });
    await until(fresh, 'window.__dispatchd?.ready === true', 30_000);
    for (const [id, text] of Object.entries(expected)) await tile(fresh, id, text);
    expect(errors).toEqual([]);
    await fresh.close();
    await page.close();
  });
});
