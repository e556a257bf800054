import type { FastifyBaseLogger } from 'fastify';
import type { Tracker, WmsEvent } from './tracker.js';

/**
 * Pulls the WMS event feed every N minutes (the case's 3-minute poll). The feed protocol:
 * `GET <WMS_URL>?since=<cursor>` answers `{"events":[WmsEvent...],"cursor":"..."}`; the cursor of
 * the last page applied is sent next time (empty the first time), so nothing is fetched twice in
 * normal operation and anything fetched twice is a duplicate anyway (events are idempotent).
 * A failed poll keeps the cursor and is retried at the next tick; it never stops the service.
 */
export class WmsPoller {
  private cursor = '';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  /** Totals since start, for logs and tests. */
  readonly totals = { polls: 0, failures: 0, events: 0, applied: 0, duplicates: 0, rejected: 0 };

  constructor(
    /** The feed's URL, or (the demo's simulated WMS) a function answering the same pages in-process. */
    private readonly url: string | ((since: string) => Promise<{ events?: WmsEvent[]; cursor?: string }>),
    private readonly intervalMs: number,
    private readonly tracker: Tracker,
    private readonly log?: FastifyBaseLogger,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.pollOnce().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One poll: fetch every page the feed has, apply it, advance the cursor. Overlapping calls wait for each other. */
  async pollOnce(): Promise<void> {
    const previous = this.running ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.drain());
    this.running = next;
    return next;
  }

  private async fetchPage(): Promise<{ events?: WmsEvent[]; cursor?: string }> {
    if (typeof this.url === 'function') return this.url(this.cursor);
    const u = new URL(this.url);
    u.searchParams.set('since', this.cursor);
    const res = await fetch(u, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`WMS answered ${res.status}`);
    return (await res.json()) as { events?: WmsEvent[]; cursor?: string };
  }

  private async drain(): Promise<void> {
    this.totals.polls++;
    try {
      for (let page = 0; page < 1_000; page++) {
        const body = await this.fetchPage();
        const events = Array.isArray(body.events) ? body.events : [];
        const results = await this.tracker.apply(events);
        this.totals.events += events.length;
        for (const r of results) {
          if (r.status === 'applied') this.totals.applied++;
          else if (r.status === 'duplicate') this.totals.duplicates++;
          else if (r.status === 'rejected') {
            this.totals.rejected++;
            this.log?.warn({ event: events[r.index], code: r.code, reason: r.message }, 'WMS event rejected');
          }
        }
        if (typeof body.cursor === 'string') this.cursor = body.cursor;
        if (events.length === 0 || typeof body.cursor !== 'string') break;
      }
    } catch (err) {
      this.totals.failures++;
      this.log?.warn({ err, url: typeof this.url === 'string' ? this.url : 'simulated WMS' }, 'WMS poll failed; retrying at the next tick');
      throw err;
    }
  }
}
