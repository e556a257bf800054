import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveCodec } from '../../src/live/codec.js';
import type { LiveDecision } from '../../src/live/hub.js';
import { startLiveService, type LiveService } from '../../src/live/standalone.js';
import { network, order, TEST_AUTH_CONFIG, TEST_KEY } from '../support/app.js';
import { useRedis } from '../support/redis-server.js';

/**
 * Two instances with the socket.io Redis adapter (attachLive's redisUrl): a map connected to
 * instance A sees the decisions instance B makes, and the KPIs of both instances.
 */
const db = useRedis();
let a: LiveService;
let b: LiveService;
const clients: Socket[] = [];
const codec = LiveCodec.loadSync();

beforeAll(async () => {
  a = await startLiveService({ net: network(), config: TEST_AUTH_CONFIG, live: { redisUrl: db.url, instanceId: 'A' } });
  // B has an on-time source (as the tracker of issue 5 will give); A has none.
  b = await startLiveService({ net: network(), config: TEST_AUTH_CONFIG, live: { redisUrl: db.url, instanceId: 'B', onTime: async () => 0.925 } });
}, 60_000);
afterAll(async () => {
  for (const c of clients) c.close();
  await a?.close();
  await b?.close();
});

describe('live stream across instances (Redis adapter)', () => {
  it("delivers instance B's decisions and KPIs to a client of instance A", async () => {
    const socket = io(`${a.url}/live`, { transports: ['websocket'], forceNew: true, auth: { key: TEST_KEY } });
    clients.push(socket);
    const decisions: LiveDecision[] = [];
    const kpiFrom = new Map<string, { onTimePct?: number }>();
    let snapshot = false;
    socket.on('snapshot', () => (snapshot = true));
    socket.on('decision', (buf: Buffer) => decisions.push(...codec.decode<{ items: LiveDecision[] }>('decision', new Uint8Array(buf)).items));
    socket.on('kpi', (buf: Buffer) => {
      const k = codec.decode<{ instanceId: string; onTimePct?: number }>('kpi', new Uint8Array(buf));
      kpiFrom.set(k.instanceId, k);
    });
    const until = async (pred: () => boolean, what: string) => {
      for (let t0 = Date.now(); !pred(); ) {
        if (Date.now() - t0 > 30_000) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    await until(() => snapshot, 'the snapshot');
    const body = order({ orderId: `LIVE-B-${process.pid}`, placedAt: undefined, promisedBy: new Date(Date.now() + 2 * 86_400_000).toISOString() });
    b.hub.noteOrder(String(body.orderId), body as never);
    await b.svc.allocator.allocate(body as never);
    await until(() => decisions.some((d) => d.orderId === body.orderId), "B's decision on A's socket");
    const d = decisions.find((x) => x.orderId === body.orderId)!;
    expect(d.instanceId).toBe('B');
    expect(d.destination).toBeDefined();
    await until(() => kpiFrom.has('B'), "B's KPI on A's socket");
    expect(kpiFrom.get('B')!.onTimePct).toBe(92.5);
    // A's own decisions: none here, so A sends no KPI, and with no source it would say nothing of on-time.
    expect(kpiFrom.get('A')?.onTimePct).toBeUndefined();
  });
});
