import type { Cluster } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
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
