import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllocateRequest } from '../../src/domain/schemas.js';
import { LiveCodec } from '../../src/live/codec.js';
import type { LiveDecision } from '../../src/live/hub.js';
import { startLiveService, type LiveService } from '../../src/live/standalone.js';
import { network, order, TEST_AUTH_CONFIG, TEST_KEY } from '../support/app.js';

/**
 * A single instance whose live map nobody has open encodes no frames (each one cost the request
 * thread a protobuf encoding of every decision for nobody) and does not ask for the on-time rate
 * (a scan of every tracked order); a map that opens later still gets every recent decision in its
 * snapshot, then the new ones as frames, and the on-time rate with the KPIs.
 */
let svc: LiveService;
const codec = LiveCodec.loadSync();
let socket: Socket | undefined;
/** Times the on-time rate (a scan of every tracked order in the service) was asked for. */
let onTimeAsked = 0;

beforeAll(async () => {
  svc = await startLiveService({
    net: network(),
    config: TEST_AUTH_CONFIG,
    feedRate: 0,
    live: {
      onTime: async () => {
        onTimeAsked++;
        return 0.9;
      },
      onTimeEveryMs: 20,
    },
  });
}, 60_000);
afterAll(async () => {
  socket?.close();
  await svc?.close();
});

const promised = () => new Date(Date.now() + 2 * 86_400_000).toISOString();
/** An allocate request for now (the order's promise two days ahead), straight to the allocator. */
const request = (orderId: string) => order({ orderId, placedAt: undefined, promisedBy: promised() }) as unknown as AllocateRequest;
const frameGap = () => new Promise((r) => setTimeout(r, 5 * svc.hub.frameMs));

describe('live stream with nobody watching', () => {
  it('encodes nothing until a map joins, whose snapshot then has the decisions made meanwhile', async () => {
    const early = [`UNWATCHED-A-${process.pid}`, `UNWATCHED-B-${process.pid}`];
    for (const id of early) await svc.svc.allocator.allocate(request(id));
    await frameGap();
    expect(svc.hub.stats.frames).toBe(0);
    expect(svc.hub.stats.decisionsPublished).toBe(0);
    expect(onTimeAsked).toBe(0);
    expect(svc.hub.recentDecisions().map((d) => d.orderId)).toEqual(early);

    socket = io(`${svc.url}/live`, { transports: ['websocket'], forceNew: true, auth: { key: TEST_KEY } });
    const snapshot = new Promise<{ recent: LiveDecision[] }>((resolve) => socket!.once('snapshot', (b: Buffer) => resolve(codec.decode('snapshot', new Uint8Array(b)) as { recent: LiveDecision[] })));
    const decisions: LiveDecision[] = [];
    const kpis: { onTimePct?: number }[] = [];
    socket.on('kpi', (b: Buffer) => kpis.push(codec.decode('kpi', new Uint8Array(b)) as { onTimePct?: number }));
    socket.on('decision', (b: Buffer) => decisions.push(...(codec.decode('decision', new Uint8Array(b)).items as LiveDecision[])));
    expect((await snapshot).recent.map((d) => d.orderId)).toEqual(early);

    // The room join follows the snapshot at once: new decisions go out as frames again.
    const late = `UNWATCHED-C-${process.pid}`;
    await svc.svc.allocator.allocate(request(late));
    await new Promise<void>((resolve) => {
      const check = () => (decisions.some((d) => d.orderId === late) ? resolve() : setTimeout(check, 20));
      check();
    });
    expect(svc.hub.stats.frames).toBeGreaterThan(0);
    expect(decisions.map((d) => d.orderId)).toEqual([late]);
    // Watched now: the on-time rate is asked for again and reaches the map with the KPIs.
    await new Promise<void>((resolve) => {
      const check = () => (kpis.some((k) => k.onTimePct === 90) ? resolve() : setTimeout(check, 20));
      check();
    });
    expect(onTimeAsked).toBeGreaterThan(0);
  }, 30_000);
});
