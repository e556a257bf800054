import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { defaultDataDir, loadStatusMap } from '../../src/network/load.js';
import { renderReport } from '../../src/replay/report.js';
import { runReplay } from '../../src/replay/run.js';
import type { Scenario } from '../../src/replay/scenario.js';
import { loadExactSolver } from '../../src/solve/exact.js';
import { InThreadSolver } from '../../src/solve/pool.js';
import { StatusMachine } from '../../src/domain/scan-states.js';
import { network, order, PLACES } from '../support/app.js';

/**
 * The planner's replay report in real headless Chromium (Debian's chromium via playwright-core,
 * launched as tests/live/e2e.test.ts does): every chart draws its lines with a real extent, the
 * scenario's events are marked on the time axes, and the scarce resources' chart is there.
 * A screenshot goes to REPORT_SCREENSHOT_DIR (default: a temp dir) for a person to look at.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOT_DIR = process.env.REPORT_SCREENSHOT_DIR ?? join(tmpdir(), 'dispatchd-report');
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk (see .ci/run)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

it('renders the report with its charts, events on the time axes and resource use against limits', async () => {
  const at = (h: number, m = 0) => `2026-11-11T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00+08:00`;
  const places = [PLACES.shanghaiPeoplesSquare, PLACES.suzhouCentre, PLACES.hefeiCentre];
  const events: Scenario['events'] = Array.from({ length: 36 }, (_, i) => {
    const placedAt = at(8 + Math.floor(i / 4), (i % 4) * 15);
    return { at: placedAt, type: 'order' as const, order: order({ orderId: `E-${i}`, placedAt, promisedBy: '2026-11-13T18:00:00+08:00', destination: places[i % 3], lines: [{ sku: 'BRK-0001', qty: 1 + (i % 5) }] }) as never };
  });
  events.push({ at: at(11), type: 'capacity', courierId: 'STO', provinceCodes: ['310000', '320000'], parcels: 3 });
  events.push({ at: at(12), type: 'closure', warehouseId: 'HF01', until: at(14) });
  const scenario: Scenario = { name: 'report in Chromium', events };
  const config = loadConfig({}, { solverThreads: 0 });
  const result = await runReplay(scenario, [], ['nearest', 'optimized'], {
    net: network(),
    config,
    solver: new InThreadSolver(await loadExactSolver('highs')),
    machine: new StatusMachine(loadStatusMap(defaultDataDir())),
    hindsight: false,
    clairvoyant: { lpBound: 10, costPerOrder: 11, onTimeRate: 1 },
  });
  expect(result.events.map((e) => e.label)).toEqual(['STO capacity 3 parcels (310000, 320000)', 'HF01 closed until 11-11 14:00']);
  const page = await browser.newPage({ viewport: { width: 1050, height: 900 } });
  try {
    await page.setContent(renderReport(result));
    // A string expression, as in tests/live/e2e.test.ts (the test's TypeScript has no DOM types).
    const charts = (await page.evaluate(`[...document.querySelectorAll('figure.chart')].map((f) => ({
      id: f.id,
      paths: [...f.querySelectorAll('path.series, rect')].map((p) => { const b = p.getBBox(); return b.width + b.height; }),
      markers: f.querySelectorAll('g.marker').length,
    }))`)) as { id: string; paths: number[]; markers: number }[];
    // On time, money and penalties by hour, resources (warehouses, couriers) per policy, two bar charts.
    expect(charts.length).toBeGreaterThanOrEqual(3 + 2 + 2);
    for (const c of charts) {
      expect(c.paths.length, c.id).toBeGreaterThan(0);
      expect(Math.max(...c.paths), c.id).toBeGreaterThan(10);
    }
    for (const id of ['chart-on-time', 'chart-money', 'chart-penalties', 'resources-optimized-courier']) expect(charts.find((c) => c.id === id)?.markers, id).toBe(2);
    expect(charts.map((c) => c.id)).toContain('resources-nearest-warehouse');
    // The KPI table names money and penalties apart and the gap captured.
    const table = await page.locator('#kpis').innerText();
    expect(table).toMatch(/money per order/);
    expect(table).toMatch(/penalties per order/);
    expect(table).toMatch(/gap captured/);
    mkdirSync(SHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SHOT_DIR, 'report.png'), fullPage: true });
  } finally {
    await page.close();
  }
}, 120_000);
