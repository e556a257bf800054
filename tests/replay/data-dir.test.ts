import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { defaultDataDir } from '../../src/network/load.js';
import { openReplayContext } from '../../src/replay/context.js';
import { order, testApp } from '../support/app.js';

/**
 * A replay runs on the service's DATA_DIR, like the service: its network and stock, and its WMS
 * status map. Before, the replay job's worker read its configuration from the environment (so a
 * service configured otherwise replayed the bundled data) and every replay loaded the bundled
 * status map.
 */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A copy of the bundled data/ in which FLO-0001 is out of stock everywhere and the WMS knows one more code. */
function customDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dispatchd-replay-data-'));
  dirs.push(dir);
  cpSync(defaultDataDir(), dir, { recursive: true });
  const stock = join(dir, 'network', 'stock.csv');
  writeFileSync(
    stock,
    readFileSync(stock, 'utf8')
      .split('\n')
      .map((l) => (l.split(',')[1] === 'FLO-0001' ? l.replace(/,\d+$/, ',0') : l))
      .join('\n'),
  );
  const mapFile = join(dir, 'wms', 'status-map.json');
  const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { codes: Record<string, unknown> };
  map.codes.CUSTOM_LOADED = map.codes[Object.keys(map.codes)[0]!];
  writeFileSync(mapFile, JSON.stringify(map));
  return dir;
}

describe('a replay honours DATA_DIR', () => {
  const dataDir = customDataDir();

  it("opens DATA_DIR's network and WMS status map", async () => {
    const ctx = await openReplayContext(loadConfig({}, { dataDir }));
    expect(ctx.machine.knows('CUSTOM_LOADED')).toBe(true);
    expect((await openReplayContext(loadConfig({}))).machine.knows('CUSTOM_LOADED')).toBe(false);
    expect(ctx.net.network.stock.filter((r) => r.sku === 'FLO-0001').every((r) => r.onHand === 0)).toBe(true);
  });

  it("a replay job of a service configured with DATA_DIR replays that network's stock", async () => {
    const { app } = await testApp({ dataDir });
    try {
      const at = (h: number) => `2026-11-11T${String(h).padStart(2, '0')}:00:00+08:00`;
      const events = Array.from({ length: 3 }, (_, i) => ({
        at: at(9 + i),
        type: 'order',
        order: order({ orderId: `DD-${i}`, placedAt: at(9 + i), promisedBy: '2026-11-13T18:00:00+08:00', lines: [{ sku: 'FLO-0001', qty: 1 }] }),
      }));
      const started = await app.inject({ method: 'POST', url: '/v1/scenarios', payload: { name: 'data dir', events, policies: ['optimized'] } });
      expect(started.statusCode).toBe(202);
      await app.dspReplays.idle();
      const done = (await app.inject(`/v1/scenarios/${started.json().id as string}`)).json();
      expect(done.status).toBe('done');
      // FLO-0001 is out of stock in DATA_DIR (the bundled data has plenty): nothing ships.
      expect(done.result.policies.optimized.backorders).toBe(3);
    } finally {
      await app.close();
    }
  }, 120_000);
});
