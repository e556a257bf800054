import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { startRedis } from '../support/redis-server.js';
import { storeCases } from './store.cases.js';

// The same contract suite as the in-memory store, against a real redis-server of the test's own.
let server: Awaited<ReturnType<typeof startRedis>>;
const clients: Redis[] = [];
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

storeCases('redis (one node)', async (rows, clock) => {
  const redis = new Redis(server.url);
  clients.push(redis);
  await redis.flushall();
  const store = new RedisStore(redis, ['HF01', 'SH01'], { clock });
  await store.seed(rows);
  return store;
});
