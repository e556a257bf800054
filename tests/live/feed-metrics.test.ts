import { afterAll, describe, expect, it } from 'vitest';
import { startLiveService, type LiveService } from '../../src/live/standalone.js';
import { network, TEST_AUTH_CONFIG, withKey } from '../support/app.js';

/**
 * The live map's standalone mode opens its services in the composition root: the demo feed's
 * decisions are the service's own, so /metrics counts them (it listens on the one allocator).
 * Before, the standalone mode built a second allocator whose decisions /metrics never saw.
 */
let svc: LiveService | undefined;
afterAll(async () => svc?.close());

describe('demo feed and metrics', () => {
  it("counts the feed's decisions in /metrics", async () => {
    svc = await startLiveService({ net: network(), feedRate: 20, feedSeed: 3, config: TEST_AUTH_CONFIG });
    withKey(svc.app);
    for (let t0 = Date.now(); svc.feed!.stats.decided < 5 && Date.now() - t0 < 20_000; ) await new Promise((r) => setTimeout(r, 100));
    const decided = svc.feed!.stats.decided;
    expect(decided).toBeGreaterThanOrEqual(5);
    const text = (await svc.app.inject({ method: 'GET', url: '/metrics' })).body;
    const counted = [...text.matchAll(/^dispatchd_decisions_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    // Every decision the feed got back was counted (more may have finished since).
    expect(counted).toBeGreaterThanOrEqual(decided);
  });
});
