import { seededRedisStore } from '../support/app.js';
import { useRedis } from '../support/redis-server.js';
import { authCases } from './auth.cases.js';

// Two instances, each with its own connection to one real Redis of the test's own.
const db = useRedis();

authCases('one Redis node, two instances', async (net, shared) => {
  const redis = db.client({ enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1_000 });
  redis.on('error', () => undefined);
  await new Promise((r) => redis.once('ready', r));
  if (!shared) await redis.flushall();
  return seededRedisStore(redis)(net);
});
