/**
 * HTTP load: autocannon POSTs a mixed demo stream to `POST /v1/allocate` of the built service
 * (`node dist/src/main.js serve`, a child process, embedded store, the default solver threads: none on 2 cores), then
 * the same bodies to a bare fastify endpoint that parses them and answers a real decision of the
 * same stream (the HTTP ceiling of this machine for those payload sizes), in the same run. Every request carries a unique orderId; the
 * order times are moved to now so the promises are live. The service runs on a copy of the bundled
 * network with stock and daily capacities ×100, so that the load measures deciding, not running
 * out of stock (which would turn most requests into cheap backorders).
 *
 *   npm run build && npx tsx bench/http-load.ts [--seconds 10] [--connections 50] [--rate 1000]
 *
 * `--keys compare`: instead, POST /v1/allocate at saturation against the service with API keys
 * and rate limits on and with them off (bench/serve-variant.ts, both run the same way), in
 * alternating rounds of one run: what checking a key and counting it against a rate limit costs.
 * The limit is on but out of reach (RATE_LIMIT_PER_KEY = 100,000,000 per window), so every
 * request pays for the check and the count and none is refused.
 *
 *   npx tsx bench/http-load.ts --keys compare [--seconds 10] [--connections 50] [--rounds 3]
 *
 * `--features compare`: the same, issue 21's lots and merging on (the service as it runs) and off
 * (its store without lots, MERGE_WINDOW_MINUTES=0): its "throughput within 10 % of before".
 *
 *   npx tsx bench/http-load.ts --features compare [--seconds 10] [--connections 50] [--rounds 3]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { loadNetworkContext } from '../src/network/context.js';
import { loadConfig } from '../src/config.js';
import { generateOrders } from '../src/demo/orders.js';
import type { AllocateRequest } from '../src/domain/schemas.js';
import { freePort } from '../tests/support/redis-server.js';
import { flag, machine } from './util.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The bench's own API key (API_KEYS of the service it starts). */
const BENCH_SECRET = 'bench-secret-0123456789abcdefghijklmnopqrstu';
const BENCH_KEY = `bench.${BENCH_SECRET}`;
const BENCH_ENV = { API_KEYS: `bench:erp+metrics:${BENCH_SECRET}`, RATE_LIMIT_PER_KEY: '100000000' };

/** A copy of data/ with stock and daily parcel capacities multiplied. */
export function scaledDataDir(factor: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'dsp-bench-data-'));
  cpSync(join(root, 'data'), dir, { recursive: true });
  const stock = readFileSync(join(dir, 'network/stock.csv'), 'utf8').trim().split('\n');
  writeFileSync(
    join(dir, 'network/stock.csv'),
    [stock[0], ...stock.slice(1).map((l) => l.replace(/,(\d+)$/, (_, n: string) => `,${Number(n) * factor}`))].join('\n') + '\n',
  );
  const wh = JSON.parse(readFileSync(join(dir, 'network/warehouses.json'), 'utf8')) as { dailyOutboundParcels: number }[];
  for (const w of wh) w.dailyOutboundParcels *= factor;
  writeFileSync(join(dir, 'network/warehouses.json'), JSON.stringify(wh));
  const couriers = JSON.parse(readFileSync(join(dir, 'couriers/couriers.json'), 'utf8')) as { couriers?: { dailyParcelsPerRegion: number | null }[] } | { dailyParcelsPerRegion: number | null }[];
  for (const c of Array.isArray(couriers) ? couriers : (couriers.couriers ?? [])) if (c.dailyParcelsPerRegion !== null) c.dailyParcelsPerRegion *= factor;
  writeFileSync(join(dir, 'couriers/couriers.json'), JSON.stringify(couriers));
  return dir;
}

async function waitFor(url: string, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}

interface LoadResult {
  target: string;
  'req/s': number;
  'p50 ms': number;
  'p99 ms': number;
  'max ms': number;
  requests: number;
  'non-2xx': number;
  'non-2xx codes': string;
  errors: number;
  'request bytes (mean)': number;
}

async function load(target: string, url: string, bodies: () => string, seconds: number, connections: number, overallRate?: number): Promise<LoadResult> {
  let bytes = 0;
  let n = 0;
  const failures = new Map<string, number>();
  const r = await autocannon({
    url,
    connections,
    duration: seconds,
    ...(overallRate !== undefined ? { overallRate } : {}),
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': BENCH_KEY },
        setupRequest: (req) => {
          const body = bodies();
          bytes += body.length;
          n++;
          return { ...req, body };
        },
        onResponse: (status: number, resBody: string) => {
          if (status < 300) return;
          let code = '';
          try {
            code = (JSON.parse(resBody) as { error?: { code?: string } }).error?.code ?? '';
          } catch {
            /* not JSON */
          }
          const key = `${status} ${code}`.trim();
          failures.set(key, (failures.get(key) ?? 0) + 1);
        },
      },
    ],
  });
  return {
    target,
    'req/s': Math.round(r.requests.average),
    'p50 ms': r.latency.p50,
    'p99 ms': r.latency.p99,
    'max ms': r.latency.max,
    requests: r.requests.total,
    'non-2xx': r.non2xx,
    'non-2xx codes': [...failures].map(([k, v]) => `${v} x ${k}`).join(', '),
    errors: r.errors,
    'request bytes (mean)': Math.round(bytes / Math.max(1, n)),
  };
}

/** Seeded Double-11 allocate bodies with unique orderIds and live times (RECY- lines linked to an old part with `linkCores`). */
function bodies(tag: string, linkCores = false): () => string {
  const net = loadNetworkContext(loadConfig({}));
  const stream = generateOrders(net.network, net.regionsGeoJson, { seed: 1, profile: 'double11', date: '2026-11-11' });
  let i = 0;
  const body = (): string => {
    const o = stream[i % stream.length]!;
    const run = Math.floor(i / stream.length);
    i++;
    const placed = Date.parse(o.placedAt);
    const now = Date.now();
    const req: AllocateRequest = {
      ...o,
      ...(linkCores ? { lines: o.lines.map((l) => (l.sku.startsWith('RECY-') ? { ...l, linkedCoreReturn: `CR-${o.orderId}` } : l)) } : {}),
      orderId: `${o.orderId}-${tag}${run}`,
      placedAt: new Date(now).toISOString(),
      promisedBy: new Date(now + (Date.parse(o.promisedBy) - placed)).toISOString(),
    };
    return JSON.stringify(req);
  };
  return body;
}

export async function runHttpLoad(opts: { seconds: number; connections: number; rate: number }) {
  const body = bodies('L');
  const dataDir = scaledDataDir(100);
  const [svcPort, barePort] = [await freePort(), await freePort()];
  const svc = spawn(process.execPath, [join(root, 'dist/src/main.js'), 'serve'], {
    env: { ...process.env, ...BENCH_ENV, PORT: String(svcPort), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', DEMO_FEED: process.env.DEMO_FEED ?? 'off' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let bare: ChildProcess | undefined;
  try {
    await waitFor(`http://127.0.0.1:${svcPort}/healthz`, svc);
    // The bare server answers with a real decision of the stream, so both send the same sizes.
    const sample = await (await fetch(`http://127.0.0.1:${svcPort}/v1/allocate`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': BENCH_KEY }, body: body() })).text();
    writeFileSync(join(dataDir, 'response.json'), sample);
    bare = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/bare-server.ts')], {
      env: { ...process.env, PORT: String(barePort), RESPONSE_FILE: join(dataDir, 'response.json') },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitFor(`http://127.0.0.1:${barePort}/healthz`, bare);
    // Warm up both (JIT, HiGHS in the solver threads), then measure.
    await load('warm-up', `http://127.0.0.1:${svcPort}/v1/allocate`, body, 2, opts.connections);
    await load('warm-up', `http://127.0.0.1:${barePort}/echo`, body, 1, opts.connections);
    const svcUrl = `http://127.0.0.1:${svcPort}/v1/allocate`;
    const bareUrl = `http://127.0.0.1:${barePort}/echo`;
    // Saturation: as fast as the connections go.
    const service = await load(`dispatchd, saturation, ${opts.connections} conn`, svcUrl, body, opts.seconds, opts.connections);
    const ceiling = await load(`bare fastify, saturation, ${opts.connections} conn`, bareUrl, body, opts.seconds, opts.connections);
    // A fixed offered rate: latency at a realistic load, both measured the same way.
    const svcAtRate = await load(`dispatchd, ${opts.rate} req/s offered, 10 conn`, svcUrl, body, opts.seconds, 10, opts.rate);
    const bareAtRate = await load(`bare fastify, ${opts.rate} req/s offered, 10 conn`, bareUrl, body, opts.seconds, 10, opts.rate);
    const metrics = await (await fetch(`http://127.0.0.1:${svcPort}/metrics`, { headers: { 'x-api-key': BENCH_KEY } })).text();
    const modes = [...metrics.matchAll(/^dispatchd_decisions_total\{mode="([^"]+)",solver="([^"]+)",status="([^"]+)"\} (\d+)/gm)].map((m) => ({
      mode: m[1],
      solver: m[2],
      status: m[3],
      decisions: Number(m[4]),
    }));
    return {
      rows: [service, ceiling, svcAtRate, bareAtRate],
      ratio: service['req/s'] / ceiling['req/s'],
      p99GapMs: svcAtRate['p99 ms'] - bareAtRate['p99 ms'],
      modes,
      responseBytes: sample.length,
    };
  } finally {
    await Promise.all([stop(svc), ...(bare ? [stop(bare)] : [])]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** POST /v1/allocate at saturation, keys and rate limits on vs off, in alternating rounds of one run. */
export async function runKeysComparison(opts: { seconds: number; connections: number; rounds: number }) {
  const r = await runVariantComparison({ ...opts, variants: { on: { BENCH_KEYS: 'on' }, off: { BENCH_KEYS: 'off' } }, label: 'keys + rate limits' });
  return { rows: r.rows, onRps: r.means.on!, offRps: r.means.off! };
}

/**
 * POST /v1/allocate at saturation against variants of the service (bench/serve-variant.ts, each
 * with its own environment over the same scaled data), in alternating rounds of one run (which
 * variant goes first rotates), so that a drift of the machine does not favour one side.
 */
export async function runVariantComparison(opts: { seconds: number; connections: number; rounds: number; variants: Record<string, Record<string, string>>; label: string; linkCores?: boolean }) {
  const dataDir = scaledDataDir(100);
  const procs: ChildProcess[] = [];
  try {
    const start = async (env: Record<string, string>) => {
      const port = await freePort();
      const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/serve-variant.ts')], {
        env: { ...process.env, ...BENCH_ENV, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', DEMO_FEED: 'off', ...env },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      procs.push(p);
      await waitFor(`http://127.0.0.1:${port}/healthz`, p);
      return `http://127.0.0.1:${port}/v1/allocate`;
    };
    const names = Object.keys(opts.variants);
    const urls: Record<string, string> = {};
    const body: Record<string, () => string> = {};
    for (const [i, k] of names.entries()) {
      urls[k] = await start(opts.variants[k]!);
      body[k] = bodies(`V${i}`, opts.linkCores ?? false);
    }
    // Each variant warms up as long as a round: after 2 s, the variant that ran first in round 1
    // still ran cold (542 req/s against 701 over the three rounds, bench/README.md 2026-12-07).
    for (const k of names) await load('warm-up', urls[k]!, body[k]!, opts.seconds, opts.connections);
    const rows: LoadResult[] = [];
    for (let r = 1; r <= opts.rounds; r++) {
      const order = names.map((_, i) => names[(i + r - 1) % names.length]!);
      for (const k of order) rows.push(await load(`round ${r}, ${opts.label} ${k}`, urls[k]!, body[k]!, opts.seconds, opts.connections));
    }
    const means: Record<string, number> = {};
    for (const k of names) {
      const xs = rows.filter((x) => x.target.endsWith(` ${k}`)).map((x) => x['req/s']);
      means[k] = xs.reduce((a, b) => a + b, 0) / xs.length;
    }
    return { rows, means };
  } finally {
    await Promise.all(procs.map(stop));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}` && flag('features', '') === 'compare') {
  // Issue 21's features (lots, merging) on and off: the service as it runs, and without lots in
  // its store and with MERGE_WINDOW_MINUTES=0.
  const seconds = Number(flag('seconds', '10'));
  const connections = Number(flag('connections', '50'));
  const rounds = Number(flag('rounds', '3'));
  const r = await runVariantComparison({ seconds, connections, rounds, variants: { on: {}, off: { BENCH_LOTS: 'off', MERGE_WINDOW_MINUTES: '0' } }, label: 'lots + merging' });
  console.log(`# POST /v1/allocate, issue 21's lots + merging on vs off: ${rounds} rounds of ${seconds} s each, ${connections} connections, Double-11 demo stream; ${machine()}`);
  console.table(r.rows);
  console.log(`mean req/s: on ${r.means.on!.toFixed(0)}, off ${r.means.off!.toFixed(0)}: on = ${((r.means.on! / r.means.off!) * 100).toFixed(1)} % of off`);
} else if (import.meta.url === `file://${process.argv[1]}` && flag('keys', '') === 'compare') {
  const seconds = Number(flag('seconds', '10'));
  const connections = Number(flag('connections', '50'));
  const rounds = Number(flag('rounds', '3'));
  const r = await runKeysComparison({ seconds, connections, rounds });
  console.log(`# POST /v1/allocate, keys + rate limits on vs off: ${rounds} rounds of ${seconds} s each, ${connections} connections, Double-11 demo stream; ${machine()}`);
  console.table(r.rows);
  console.log(`mean req/s: on ${r.onRps.toFixed(0)}, off ${r.offRps.toFixed(0)}: on = ${((r.onRps / r.offRps) * 100).toFixed(1)} % of off`);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(flag('seconds', '10'));
  const connections = Number(flag('connections', '50'));
  const rate = Number(flag('rate', '1000'));
  const r = await runHttpLoad({ seconds, connections, rate });
  console.log(`# HTTP load: ${seconds} s per run, Double-11 demo stream (unique orderIds); ${machine()}`);
  console.table(r.rows);
  console.log(`saturation: dispatchd at ${(r.ratio * 100).toFixed(1)} % of bare fastify; at ${rate} req/s offered, p99 ${r.p99GapMs} ms above bare (responses of ${r.responseBytes} bytes from both)`);
  console.table(r.modes);
}
