import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { RedisStore } from '../../src/store/redis.js';
import { FIXED_NOW, network, order } from '../support/app.js';
import { clusterClient, startRedisCluster } from '../support/redis-server.js';
import { storeCases } from './store.cases.js';

// The same contract suite on a 3-master Redis Cluster that the test starts itself.
let cluster: Awaited<ReturnType<typeof startRedisCluster>>;
const clients: Cluster[] = [];
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await cluster?.stop();
});

storeCases('redis cluster (3 masters)', async (rows, clock) => {
  const c = await clusterClient(cluster.nodes);
  clients.push(c);
  await Promise.all(c.nodes('master').map((n) => n.flushall()));
  const store = new RedisStore(c, ['HF01', 'SH01'], { clock });
  await store.seed(rows);
  return store;
});

describe('the service on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  it('opens the Cluster store from the configuration, is ready, and allocates', async () => {
    const wipe = await clusterClient(cluster.nodes);
    await Promise.all(wipe.nodes('master').map((n) => n.flushall()));
    wipe.disconnect();
    const config = loadConfig({}, { redisClusterNodes: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') });
    const app = await buildApp({ config, net: network(), clock: () => FIXED_NOW, logger: false });
    try {
      expect((await app.inject('/readyz')).json()).toMatchObject({ status: 'ok', store: 'redis' });
      const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: 'BRK-0001', qty: 2 }] }) });
      expect(r.statusCode).toBe(200);
      expect(r.json()).toMatchObject({ status: 'allocated', shipments: [{ warehouseId: 'SH01' }] });
      expect((await app.dspStore.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]).toMatchObject({ reserved: 2 });
    } finally {
      await app.close();
    }
  });
});
