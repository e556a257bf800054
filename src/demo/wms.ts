import type { FastifyPluginAsync } from 'fastify';
import type { Decision } from '../domain/schemas.js';
import type { Allocator } from '../allocate/allocator.js';
import { mulberry32 } from '../util/prng.js';

/**
 * A simulated WMS for the demo: it watches the decisions of this service and makes up the scans a
 * real warehouse and courier would send (printed, picked, packed, loaded, left warehouse, in
 * transit at a hub, delivered), at seeded offsets from the decision compressed by `speedup`
 * (60 = an hour of warehouse work per minute), with a few failed and late deliveries. Compressed
 * deliveries land before their ETA, so the on-time KPI of a demo says nothing about the optimiser. It serves them as the
 * feed the poller reads: `GET /demo/wms/feed?since=<cursor>` -> `{"events":[...],"cursor":"..."}`,
 * the cursor being the operation time (epoch ms) of the last event served.
 */

const MIN = 60_000;

interface Scheduled {
  orderId: string;
  warehouseId: string;
  code: string;
  /** Operation time, epoch ms (the simulated warehouse clock). */
  at: number;
  location?: string;
}

export interface SimulatedWmsOptions {
  /** How much faster than real time a shipment goes through its scans (>= 1; 60 = an hour a minute). */
  speedup: number;
  seed: number;
  clock: () => number;
}

export class SimulatedWms {
  private readonly events: Scheduled[] = [];
  private readonly rand: () => number;

  constructor(private readonly opts: SimulatedWmsOptions) {
    this.rand = mulberry32(opts.seed);
  }

  /** Schedules the scans of a new decision's shipments: offsets from the decision, compressed by `speedup`. */
  onDecision(d: Decision): void {
    const start = this.opts.clock();
    const k = 1 / Math.max(1, this.opts.speedup);
    for (const s of d.shipments) {
      const j = (mean: number) => mean * (0.6 + 0.8 * this.rand()) * MIN;
      let offset = j(10);
      const push = (code: string, location?: string) =>
        this.events.push({ orderId: d.orderId, warehouseId: s.warehouseId, code, at: Math.round(start + offset * k), ...(location ? { location } : {}) });
      push('SHIPPED_READY');
      offset += j(25);
      push('PICK_DONE');
      offset += j(15);
      push('PACK_DONE');
      offset += j(90);
      push('LOAD_DONE');
      offset += j(40);
      push('GATE_OUT');
      offset += j(30);
      push('CARRIER_PICKUP');
      const toEta = Math.max(offset + 60 * MIN, Date.parse(s.eta) - start);
      offset += (toEta - offset) / 2;
      push('HUB_ARRIVAL', `${s.courierId} hub`);
      // Most arrive around the ETA; a few are late, a few hit a failed delivery on the way.
      const late = this.rand() < 0.05 ? j(8 * 60) : 0;
      if (this.rand() < 0.02) {
        offset += 30 * MIN;
        push('DELIVERY_FAILED');
      }
      offset = Math.max(offset + MIN, toEta - j(60) + late);
      push('OUT_FOR_DELIVERY');
      offset += j(50);
      push('SIGNED');
    }
    this.events.sort((a, b) => a.at - b.at);
  }

  /** Events that have happened after the cursor, oldest first, at most `limit`. */
  feed(since: string, limit = 500): { events: (Omit<Scheduled, 'at'> & { at: string })[]; cursor: string } {
    const after = since === '' ? -Infinity : Number(since);
    const now = this.opts.clock();
    const out = this.events.filter((e) => e.at > after && e.at <= now).slice(0, limit);
    const cursor = out.length > 0 ? String(out[out.length - 1]!.at) : since;
    return { events: out.map((e) => ({ ...e, at: new Date(e.at).toISOString() })), cursor };
  }
}

/** Serves the simulated WMS feed and schedules scans for every decision the allocator makes. */
export const simulatedWmsRoutes =
  (allocator: Allocator, wms: SimulatedWms): FastifyPluginAsync =>
  async (app) => {
    allocator.listeners.push((d) => wms.onDecision(d));
    app.get<{ Querystring: { since?: string } }>('/demo/wms/feed', { schema: { hide: true } }, async (req) => wms.feed(req.query.since ?? ''));
  };
