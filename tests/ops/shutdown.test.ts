import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveCodec } from '../../src/live/codec.js';
import { RedisStore } from '../../src/store/redis.js';
import { network, order, TEST_KEY, TEST_KEY_SECRET } from '../support/app.js';
import { freePort, startRedis } from '../support/redis-server.js';
import { expectInvariant } from '../store/store.cases.js';

/**
 * SIGTERM for real: the built service (`node dist/src/main.js serve`) on a Redis of the test's own,
 * with the demo feed allocating, 50 live-map clients connected, a replay running and allocations
 * in flight from the test. Then: readiness 503 at once while requests are still served, the replay
 * visibly failed, every map told why and disconnected, exit 0 within 10 s, and in Redis no
 * half-done allocation (every reservation part belongs to an order whose decision is stored, no
 * claim left pending, reserved = the sum of the parts) and onHand = free + reserved + locked.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const codec = LiveCodec.loadSync();

let redis: Awaited<ReturnType<typeof startRedis>>;
let proc: ChildProcess | undefined;
let base = '';
const sockets: Socket[] = [];
let logs = '';

beforeAll(async () => {
  // The test runs what production runs: the compiled service.
  await run(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`], { cwd: root });
  redis = await startRedis();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  proc = spawn(process.execPath, [`${root}dist/src/main.js`, 'serve'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      DEMO_FEED: 'on',
      DEMO_FEED_RATE: '20',
      API_KEYS: `test-all:erp+dispatcher+planner+admin+metrics:${TEST_KEY_SECRET}`,
      RATE_LIMIT_PER_KEY: '100000000',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (b: Buffer) => (logs += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (logs += b.toString()));
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`service exited: ${logs}`);
    const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 300) throw new Error(`service not ready: ${logs}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 180_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  await redis?.stop();
});

interface Body {
  id: string;
  status: string;
  error: { code: string } & string;
}
const body = async (r: Response) => (await r.json()) as Body;
const api = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, { ...init, headers: { 'x-api-key': TEST_KEY, 'content-type': 'application/json', ...(init.headers ?? {}) } });

describe('SIGTERM with 50 live maps, a replay and allocations in flight', () => {
  it('goes unready first, fails the replay visibly, says goodbye to every map, finishes in-flight work and exits 0 within 10 s', async () => {
    // 50 maps, each with its snapshot.
    const goodbyes: { code: string; detail: string }[] = [];
    let disconnected = 0;
    await Promise.all(
      Array.from(
        { length: 50 },
        () =>
          new Promise<void>((resolve, reject) => {
            const s = io(`${base}/live`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { key: TEST_KEY } });
            sockets.push(s);
            s.once('snapshot', () => resolve());
            s.once('connect_error', reject);
            s.on('goodbye', (buf: Buffer) => goodbyes.push(codec.decode('goodbye', new Uint8Array(buf))));
            s.on('disconnect', () => disconnected++);
          }),
      ),
    );

    // A replay that runs for minutes.
    const started = await api('/v1/scenarios', { method: 'POST', body: JSON.stringify({ bundled: 'double11' }) });
    expect(started.status).toBe(202);
    const replayId = (await body(started)).id;
    for (let i = 0; (await body(await api(`/v1/scenarios/${replayId}`))).status !== 'running'; i++) {
      if (i > 100) throw new Error('replay did not start');
      await new Promise((r) => setTimeout(r, 100));
    }

    // Allocations from the test, 8 at a time, until the service stops answering.
    const outcomes: { orderId: string; status: number | 'network' }[] = [];
    let stop = false;
    const loops = Array.from({ length: 8 }, async (_, k) => {
      for (let i = 0; !stop; i++) {
        const req = order({ orderId: `SIG-${k}-${i}`, placedAt: new Date(Date.now() - 60_000).toISOString(), promisedBy: new Date(Date.now() + 2 * 86_400_000).toISOString(), lines: [{ sku: 'BRK-0001', qty: 1 }] });
        const status = await api('/v1/allocate', { method: 'POST', body: JSON.stringify(req) }).then((r) => r.status, () => 'network' as const);
        outcomes.push({ orderId: req.orderId as string, status });
        if (status === 'network') return;
      }
    });
    await new Promise((r) => setTimeout(r, 1_500));

    const t0 = Date.now();
    const exited = new Promise<{ code: number | null; at: number }>((resolve) => proc!.once('exit', (code) => resolve({ code, at: Date.now() })));
    proc!.kill('SIGTERM');

    // Draining: not ready, still serving; the replay shows as failed.
    await new Promise((r) => setTimeout(r, 200));
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('1');
    expect((await body(ready)).error.code).toBe('DSP_SHUTTING_DOWN');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const replay = await body(await api(`/v1/scenarios/${replayId}`));
    expect(replay).toMatchObject({ status: 'failed' });
    expect(replay.error).toMatch(/shut down \(SIGTERM\)/);
    const refused = await api('/v1/scenarios', { method: 'POST', body: JSON.stringify({ bundled: 'double11' }) });
    expect(refused.status).toBe(503);
    expect((await body(refused)).error.code).toBe('DSP_SHUTTING_DOWN');

    const { code, at } = await exited;
    stop = true;
    await Promise.all(loops);
    const ms = at - t0;
    console.log(logs.split('\n').filter((l) => /shut|replay jobs|sockets closed|grace/.test(l)).map((l) => l.slice(0, 220)).join('\n'));
    console.log(`SIGTERM -> exit ${code} in ${ms} ms; maps told goodbye: ${goodbyes.length}, disconnected: ${disconnected}; test allocations: ${outcomes.length} (${outcomes.filter((o) => o.status === 200).length} decided)`);
    expect(code, logs.split('\n').filter((l) => /shut|grace|warn|error/i.test(l)).slice(-20).join('\n')).toBe(0);
    expect(ms).toBeLessThan(10_000);
    expect(logs).toContain('shut down');
    expect(goodbyes).toHaveLength(50);
    expect(goodbyes.every((g) => g.code === 'DSP_SHUTTING_DOWN')).toBe(true);
    expect(disconnected).toBe(50);
    // Every answer was a decision or a clean refusal (never a 500).
    expect(outcomes.filter((o) => o.status !== 200 && o.status !== 503 && o.status !== 'network')).toEqual([]);
    expect(outcomes.filter((o) => o.status === 200).length).toBeGreaterThan(0);

    // In Redis: no half-done allocation.
    const r = new Redis(redis.url);
    try {
      const store = new RedisStore(r, network().warehouses.map((w) => w.id));
      await expectInvariant(store);
      for (const o of outcomes.filter((x) => x.status === 200)) expect(await store.getDecision(o.orderId), o.orderId).not.toBeNull();
      const orderKeys = await r.keys('{ord:*}');
      const records = await Promise.all(orderKeys.filter((k) => /^\{ord:[^}]+\}$/.test(k)).map(async (k) => ({ k, rec: await r.hgetall(k) })));
      expect(records.length).toBeGreaterThan(10);
      expect(records.filter((x) => x.rec.state === 'pending').map((x) => x.k)).toEqual([]);
      let parts = 0;
      for (const w of network().warehouses) {
        const tag = `{wh:${w.id}}`;
        const held = await r.hgetall(`${tag}:parts`);
        const sum = new Map<string, number>();
        for (const [orderId, json] of Object.entries(held)) {
          parts++;
          const rec = await r.hgetall(`{ord:${orderId}}`);
          expect(rec.state, `${orderId} holds a part in ${w.id}`).toBe('held');
          expect(rec.decision, `${orderId} has its decision`).toBeTruthy();
          for (const [sku, qty] of (JSON.parse(json) as { i: [string, number][] }).i) sum.set(sku, (sum.get(sku) ?? 0) + qty);
        }
        const reserved = await r.hgetall(`${tag}:reserved`);
        for (const [sku, n] of Object.entries(reserved)) expect(Number(n), `${w.id}/${sku} reserved = its parts`).toBe(sum.get(sku) ?? 0);
        for (const [sku, n] of sum) expect(Number(reserved[sku] ?? 0), `${w.id}/${sku}`).toBe(n);
      }
      expect(parts).toBeGreaterThan(10);
    } finally {
      r.disconnect();
    }
  }, 120_000);
});
