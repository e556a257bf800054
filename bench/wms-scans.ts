/**
 * WMS scans on one order: the time a POST /v1/wms/events batch of N scans on one order takes,
 * for N = 100 and N = 1,000 (each on a fresh order, every scan new), then four batches of 1,000 on
 * the same order (the order's stored scans grow), with /healthz polled over HTTP throughout (its
 * worst latency shows how long the event loop was held). The service is built as `npm start`
 * builds it (embedded store, bundled network), listening on a free loopback port.
 *
 *   npx tsx bench/wms-scans.ts [--rounds 5]
 */
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { flag, machine } from './util.js';

const rounds = Number(flag('rounds', '5'));
const CODES = ['SHIPPED_READY', 'PICK_DONE', 'PACK_DONE', 'LOAD_DONE', 'GATE_OUT', 'HUB_ARRIVAL'];

// The service checks API keys (issue 18): the bench calls with its own ERP key, its rate limit out of reach.
const SECRET = 'bench-secret-0123456789abcdefghijklmnopqrstu';
const config = loadConfig({ API_KEYS: `bench:erp:${SECRET}`, RATE_LIMIT_PER_KEY: '100000000' }, { solverThreads: 0, logLevel: 'silent', demoFeed: 'off' });
const app = await buildApp({ config, logger: false });
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
const post = (url: string, body: unknown) => fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': `bench.${SECRET}` }, body: JSON.stringify(body) });

let seq = 0;
async function newOrder(): Promise<string> {
  const orderId = `WMS-BENCH-${++seq}`;
  const promise = new Date(Date.now() + 2 * 86_400_000).toISOString();
  const r = await post('/v1/allocate', { orderId, customerId: 'C-BENCH', promisedBy: promise, destination: { lon: 121.4737, lat: 31.2304 }, lines: [{ sku: 'BRK-0001', qty: 1 }] });
  if (!r.ok) throw new Error(`allocate: ${r.status} ${await r.text()}`);
  return orderId;
}

/** N new scans on the order (distinct operation times, a second apart, in the past three hours), every one a new scan. */
function scans(orderId: string, n: number, offset: number) {
  const t0 = Date.now() - 3 * 3_600_000;
  return Array.from({ length: n }, (_, i) => ({ orderId, code: CODES[(offset + i) % CODES.length]!, at: new Date(t0 + (offset + i) * 1_000).toISOString(), warehouseId: 'SH01' }));
}

/** Times one batch while /healthz is polled back to back; returns ms and the worst /healthz latency. */
async function timed(events: unknown[]): Promise<{ ms: number; healthMaxMs: number }> {
  let done = false;
  let healthMaxMs = 0;
  const poll = (async () => {
    while (!done) {
      const t = performance.now();
      await fetch(`${base}/healthz`);
      healthMaxMs = Math.max(healthMaxMs, performance.now() - t);
    }
  })();
  const t = performance.now();
  const r = await post('/v1/wms/events', { events });
  const ms = performance.now() - t;
  if (!r.ok) throw new Error(`wms: ${r.status} ${await r.text()}`);
  const applied = ((await r.json()) as { results: { status: string }[] }).results.filter((x) => x.status === 'applied').length;
  if (applied !== events.length) throw new Error(`only ${applied} of ${events.length} applied`);
  done = true;
  await poll;
  return { ms, healthMaxMs };
}

console.log(`# WMS scans on one order (${machine()})`);
const rows: Record<string, string | number>[] = [];
for (let r = 0; r < rounds; r++) {
  const small = await timed(scans(await newOrder(), 100, 0));
  const big = await timed(scans(await newOrder(), 1_000, 0));
  rows.push({ round: r + 1, '100 scans ms': +small.ms.toFixed(1), '1,000 scans ms': +big.ms.toFixed(1), ratio: +(big.ms / small.ms).toFixed(1), 'healthz max ms': +Math.max(small.healthMaxMs, big.healthMaxMs).toFixed(1) });
}
console.table(rows);
const same = await newOrder();
const growing: Record<string, string | number>[] = [];
for (let k = 0; k < 4; k++) {
  const b = await timed(scans(same, 1_000, k * 1_000));
  growing.push({ batch: k + 1, 'stored before': k * 1_000, ms: +b.ms.toFixed(1), 'healthz max ms': +b.healthMaxMs.toFixed(1) });
}
console.log('four batches of 1,000 on one order:');
console.table(growing);
await app.close();
