import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { storeKeys } from '../../src/store/keys.js';
import { RedisStore } from '../../src/store/redis.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { FIXED_NOW, network, order, TEST_AUTH_CONFIG, withKey } from '../support/app.js';
import { clusterClient, useRedisCluster } from '../support/redis-server.js';
import { storeCases } from './store.cases.js';

// The same contract suite on a 3-master Redis Cluster that the test starts itself.
const cluster = useRedisCluster();

storeCases('redis cluster (3 masters)', async (rows, clock, retention) => {
  const c = await cluster.client();
  await Promise.all(c.nodes('master').map((n) => n.flushall()));
  const store = new RedisStore(c, ['HF01', 'SH01'], { clock, ...retention });
  await store.seed(rows);
  return store;
});

describe('the recovery pass on a Cluster (issue 19)', () => {
  it('gives back a two-warehouse plan whose decision was never stored, with the order, its warehouses and the markers on different slots', async () => {
    const c = await cluster.client();
    await Promise.all(c.nodes('master').map((n) => n.flushall()));
    let now = Date.parse('2026-11-11T10:00:00+08:00');
    const open = async () => {
      const client = await cluster.client();
      return new RedisStore(client, ['HF01', 'SH01'], { clock: () => now, claimTimeoutMs: 10_000 });
    };
    const survivor = await open();
    await survivor.seed([
      { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 10 },
      { warehouseId: 'HF01', sku: 'BRK-0001', onHand: 10 },
    ]);
    // The instance that reserves dies before it stores the decision (nothing fails in it, so
    // nothing of its own compensates).
    const dying = await open();
    const plan = [
      { warehouseId: 'SH01', sku: 'BRK-0001', qty: 3 },
      { warehouseId: 'HF01', sku: 'BRK-0001', qty: 2 },
    ];
    expect((await dying.reserve({ id: 'dead-c', items: plan, counters: [{ key: 'cap:courier:STO:310000:2026-11-11:parcels', amount: 1, limit: 5 }], ttlMs: 48 * 3_600_000 })).ok).toBe(true);
    const reserved = async () => (await survivor.stock()).map((r) => `${r.warehouseId}:${r.reserved}`).join(' ');
    expect(await reserved()).toBe('HF01:2 SH01:3');
    now += 10_001;
    expect(await survivor.recover()).toMatchObject({ released: 1 });
    expect(await reserved()).toBe('HF01:0 SH01:0');
    expect((await survivor.counters(['cap:courier:STO:310000:2026-11-11:parcels'])).get('cap:courier:STO:310000:2026-11-11:parcels')).toBe(0);
    expect(await c.zcard(storeKeys.pending)).toBe(0);
    expect(await c.exists(storeKeys.order('dead-c'))).toBe(0);
  });
});

describe('the service on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  it('opens the Cluster store from the configuration, is ready, and allocates', async () => {
    const wipe = await clusterClient(cluster.nodes);
    await Promise.all(wipe.nodes('master').map((n) => n.flushall()));
    wipe.disconnect();
    const config = loadConfig({}, { ...TEST_AUTH_CONFIG, redisClusterNodes: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') });
    const app = withKey(await buildApp({ config, net: network(), clock: () => FIXED_NOW, logger: false }));
    try {
      expect((await app.inject('/readyz')).json()).toMatchObject({ status: 'ok', store: 'redis' });
      const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: 'BRK-0001', qty: 2 }] }) });
      expect(r.statusCode).toBe(200);
      expect(r.json()).toMatchObject({ status: 'allocated', shipments: [{ warehouseId: 'SH01' }] });
      expect((await app.dspServices.store.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]).toMatchObject({ reserved: 2 });
    } finally {
      await app.close();
    }
  });
});

describe('the outbox on a Cluster with OUTBOX_MIN_REPLICAS', () => {
  it('asks the masters for replica acknowledgements: with none to give, an enqueue is refused, not acknowledged', async () => {
    const c = await cluster.client();
    await Promise.all(c.nodes('master').map((n) => n.flushall()));
    const entry = (id: string) => ({
      id,
      target: 't',
      orderId: 'ERP-1',
      code: 'TAG',
      discriminator: '',
      action: '{}',
      state: 'pending' as const,
      attempts: 0,
      replays: 0,
      createdAt: 1,
      nextAttemptAt: 1,
      lease: null,
      leaseUntil: null,
      lastAttemptAt: null,
      lastError: null,
      deliveredAt: null,
    });
    // This test's Cluster has masters only.
    const strict = new RedisStore(c, ['SH01'], { outboxMinReplicas: 1, replicaWaitMs: 100 });
    await expect(strict.outboxAdd([entry('OBX-1')])).rejects.toBeInstanceOf(StoreUnavailableError);
    const lenient = new RedisStore(c, ['SH01'], { outboxMinReplicas: 0 });
    expect(await lenient.outboxAdd([entry('OBX-2')])).toEqual([true]);
  });
});
