import { describe, expect, it } from 'vitest';
import { storeKeys } from '../../src/store/keys.js';
import { RedisStore } from '../../src/store/redis.js';
import { ReservationLostError } from '../../src/store/types.js';
import { useRedis } from '../support/redis-server.js';

/**
 * A process that stalls longer than CLAIM_TIMEOUT_MS (a long GC pause, SIGSTOP) in the middle of
 * an order's steps (issue 19): between two reservation parts, between storing the decision and
 * its indexes, between the compare-and-set of a cancel or a shipment and finishing its parts.
 * Meanwhile another instance's recovery pass runs past the stalled step's deadline; then the
 * stalled process resumes. The stall is simulated deterministically: a spy on the stalled
 * store's script calls moves the shared clock past the deadline and runs the other instance's
 * pass before the call returns. Whatever the interleaving, the stock must count each order once:
 * nothing stays reserved that no held order holds, and nothing is finished twice.
 */
const T = Date.parse('2026-11-11T10:00:00+08:00');
const CLAIM_TIMEOUT_MS = 10_000;
const plan = [
  { warehouseId: 'SH01', sku: 'BRK-0001', qty: 4 },
  { warehouseId: 'HF01', sku: 'BRK-0001', qty: 2 },
];
const held = { requestHash: 'h', decision: {}, reservation: 'held' as const, expiresAt: null, cancelled: false };

const db = useRedis();

type Spied = { slot: (script: string, ...a: unknown[]) => Promise<unknown>; order: (script: string, ...a: unknown[]) => Promise<unknown> };

async function setup() {
  const redis = db.client();
  await redis.flushall();
  const clock = { now: T };
  const open = () => {
    const c = db.client();
    return new RedisStore(c, ['HF01', 'SH01'], { clock: () => clock.now, claimTimeoutMs: CLAIM_TIMEOUT_MS });
  };
  const stalled = open();
  const other = open();
  await stalled.seed([
    { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 10 },
    { warehouseId: 'HF01', sku: 'BRK-0001', onHand: 10 },
  ]);
  const cells = async () => (await other.stock({ sku: 'BRK-0001' })).map((r) => `${r.warehouseId}:${r.onHand}/${r.reserved}`).join(' ');
  /**
   * Makes the stalled store pause after its first call of `script` for `orderId` (the call has
   * run in Redis): the clock moves past every deadline and the other instance's pass runs.
   */
  const stallAfter = (kind: 'slot' | 'order', script: string, orderId: string) => {
    const spy = stalled as unknown as Spied;
    const original = spy[kind].bind(stalled);
    const reports: Awaited<ReturnType<RedisStore['recover']>>[] = [];
    spy[kind] = async (s, ...a) => {
      const r = await original(s, ...a);
      const id = kind === 'slot' ? a[1] : a[0];
      if (s === script && id === orderId && reports.length === 0) {
        clock.now += CLAIM_TIMEOUT_MS + 1;
        reports.push(await other.recover());
      }
      return r;
    };
    return reports;
  };
  return { redis, clock, stalled, other, cells, stallAfter };
}

describe('A process stalled past CLAIM_TIMEOUT_MS in the middle of an order', () => {
  it('between two reservation parts: the pass gives back the first; the part taken after the takeover is given back by the stalled attempt itself', async () => {
    const { redis, stalled, cells, stallAfter } = await setup();
    // Parts are reserved in slot order (wh:HF01, then wh:SH01): the stall comes after HF01's.
    const reports = stallAfter('slot', 'dspReservePart', 'p');
    const r = await stalled.reserve({ id: 'p', items: plan, counters: [], ttlMs: 48 * 3_600_000 });
    expect(reports).toEqual([expect.objectContaining({ released: 1 })]);
    // The stalled attempt went on and took SH01's part after the pass had aborted its claim.
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    await expect(stalled.putDecisionIfAbsent({ orderId: 'p', ...held }, r.attempt)).rejects.toBeInstanceOf(ReservationLostError);
    expect(await cells()).toBe('HF01:10/0 SH01:10/0');
    expect(await redis.hlen('{wh:SH01}:parts')).toBe(0);
    expect(await redis.zcard(storeKeys.pending)).toBe(0);
  });

  it('between storing the decision and its indexes: the pass completes the indexes and returns no stock; the resumed writer adds nothing', async () => {
    const { redis, stalled, other, cells, stallAfter } = await setup();
    const list = storeKeys.shipmentIndex('STO', '310000', '2026-11-11');
    const r = await stalled.reserve({ id: 'd', items: plan, counters: [], ttlMs: 48 * 3_600_000 });
    if (!r.ok) throw new Error('reserve failed');
    const reports = stallAfter('order', 'dspDecide', 'd');
    const stored = await stalled.putDecisionIfAbsent({ orderId: 'd', ...held }, r.attempt, [{ key: list, value: { orderId: 'd', shipment: 0 } }]);
    expect(reports).toEqual([expect.objectContaining({ released: 0, indexed: 1 })]);
    expect(stored.reservation).toBe('held');
    expect(await cells()).toBe('HF01:10/2 SH01:10/4');
    expect(await other.listAll(list)).toEqual([{ orderId: 'd', shipment: 0 }]);
    expect(await other.orderIds()).toContain('d');
    expect(await redis.hexists(storeKeys.order('d'), 'todo')).toBe(0);
    expect(await redis.zcard(storeKeys.pending)).toBe(0);
    expect(await other.recover()).toMatchObject({ checked: 0 });
  });

  it.each([
    ['cancel', 'dspCancelOrder', 'HF01:10/0 SH01:10/0'],
    ['shipment', 'dspCommitOrder', 'HF01:8/0 SH01:6/0'],
  ] as const)('between the compare-and-set of a %s and its parts: finished once, by whichever comes first', async (what, script, after) => {
    const { redis, stalled, other, cells, stallAfter } = await setup();
    const r = await stalled.reserve({ id: 'o', items: plan, counters: [], ttlMs: 48 * 3_600_000 });
    if (!r.ok) throw new Error('reserve failed');
    await stalled.putDecisionIfAbsent({ orderId: 'o', ...held }, r.attempt);
    const reports = stallAfter('order', script, 'o');
    const outcome = what === 'cancel' ? await stalled.cancelOrder('o') : await stalled.commit('o');
    expect(outcome).toBe(what === 'cancel' ? 'cancelled' : 'committed');
    expect(reports).toEqual([expect.objectContaining({ released: 0, finished: 1 })]);
    expect(await cells()).toBe(after);
    expect(await other.getDecision('o')).toMatchObject({ reservation: what === 'cancel' ? 'released' : 'committed' });
    // Again, by either instance: nothing changes.
    expect(what === 'cancel' ? await other.cancelOrder('o') : await other.commit('o')).toBe(what === 'cancel' ? 'cancelled' : 'not-held');
    expect(await other.recover()).toMatchObject({ checked: 0 });
    expect(await cells()).toBe(after);
    expect(await redis.zcard(storeKeys.pending)).toBe(0);
  });
});
