import type { Cluster, Redis } from 'ioredis';

/**
 * Closes a Redis connection (or Cluster) after the commands already sent are answered: QUIT
 * queues behind them, where disconnect() would fail them with "Connection is closed". QUIT
 * needs a live server: when the connection is not ready it is dropped at once. With `waitMs`, a
 * server that has not answered QUIT by then is dropped too (without it, close waits for QUIT).
 */
export async function closeRedis(c: Redis | Cluster, waitMs?: number): Promise<void> {
  if (c.status !== 'ready') {
    c.disconnect();
    return;
  }
  if (waitMs === undefined) {
    // A QUIT that fails (the server went away after the status was read) leaves nothing to wait for.
    await c.quit().catch(() => c.disconnect());
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([c.quit().catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
  clearTimeout(timer);
  c.disconnect();
}
