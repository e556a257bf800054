/**
 * The order state machine fed by WMS / PDA scans (the case's "digital glue"): raw WMS codes map to
 * business states (data/wms/status-map.json). Pure: the tracking view is a function of the *set*
 * of scan events, so events may arrive in any order and any number of times:
 *   - an event is identified by order number + code + operation timestamp (duplicates collapse);
 *   - the state is the highest-ranked physical scan seen (a late event never moves it backwards);
 *   - an exception flags the order while it is newer than every physical scan;
 *   - the timeline lists the scans by operation time.
 */

export interface StatusMap {
  states: { state: string; rank: number; label: string; labelZh: string }[];
  exceptions: { exception: string; label: string; labelZh: string }[];
  codes: Record<string, { state?: string; exception?: string }>;
}

/** One scan as stored: the raw code, when it happened (epoch ms) and where. */
export interface ScanEvent {
  code: string;
  /** Operation time, epoch ms. */
  at: number;
  warehouseId?: string;
  location?: string;
}

export interface TimelineEntry extends ScanEvent {
  /** Business state or exception name. */
  kind: 'state' | 'exception';
  name: string;
  label: string;
  labelZh: string;
}

export interface TrackingView {
  /** Highest physical state reached; null before the first physical scan. */
  state: string | null;
  rank: number;
  /** An exception newer than every physical scan, else null. */
  exception: string | null;
  timeline: TimelineEntry[];
  /** First "left warehouse" (or later) scan, epoch ms. */
  leftWarehouseAt: number | null;
  deliveredAt: number | null;
  lastEventAt: number | null;
}

export const LEFT_WAREHOUSE_RANK = 5;
export const DELIVERED_RANK = 7;


/** The identity of a scan: order number (implicit) + code + operation time. */
export function scanKey(e: Pick<ScanEvent, 'code' | 'at'>): string {
  return `${e.at}|${e.code}`;
}

export class StatusMachine {
  private readonly stateOf = new Map<string, StatusMap['states'][number]>();
  private readonly exceptionOf = new Map<string, StatusMap['exceptions'][number]>();

  constructor(readonly map: StatusMap) {
    for (const s of map.states) this.stateOf.set(s.state, s);
    for (const e of map.exceptions) this.exceptionOf.set(e.exception, e);
  }

  knows(code: string): boolean {
    // Own keys only: `in` also finds what every object inherits ("__proto__", "constructor",
    // "toString"), and such a code from a WMS then failed with a 500 instead of DSP_UNKNOWN_WMS_CODE.
    return Object.hasOwn(this.map.codes, code);
  }

  label(state: string): string {
    return this.stateOf.get(state)?.label ?? this.exceptionOf.get(state)?.label ?? state;
  }

  /** The tracking view of a set of scans (order-independent, duplicates ignored). */
  view(events: readonly ScanEvent[]): TrackingView {
    const unique = new Map<string, ScanEvent>();
    for (const e of events) if (this.knows(e.code)) unique.set(scanKey(e), e);
    // Object.assign rather than a spread: on Node 20 a spread that adds keys costs ~1.5 us an
    // object (bench/README.md, 2026-12-07), and an order's view reads every one of its scans.
    const timeline: TimelineEntry[] = [...unique.values()].map((e) => {
      const m = this.map.codes[e.code]!;
      if (m.state !== undefined) {
        const s = this.stateOf.get(m.state)!;
        return Object.assign({}, e, { kind: 'state' as const, name: s.state, label: s.label, labelZh: s.labelZh });
      }
      const x = this.exceptionOf.get(m.exception!)!;
      return Object.assign({}, e, { kind: 'exception' as const, name: x.exception, label: x.label, labelZh: x.labelZh });
    });
    // Operation time first; at the same instant, by rank then code, so that the order is total.
    const rank = (t: TimelineEntry) => (t.kind === 'state' ? this.stateOf.get(t.name)!.rank : 0);
    timeline.sort((a, b) => a.at - b.at || rank(a) - rank(b) || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));

    let best: TimelineEntry | null = null;
    let lastPhysical = -Infinity;
    let lastException: TimelineEntry | null = null;
    let leftWarehouseAt: number | null = null;
    let deliveredAt: number | null = null;
    for (const t of timeline) {
      if (t.kind === 'exception') {
        lastException = t;
        continue;
      }
      const r = rank(t);
      if (!best || r > rank(best)) best = t;
      lastPhysical = Math.max(lastPhysical, t.at);
      if (r >= LEFT_WAREHOUSE_RANK && leftWarehouseAt === null) leftWarehouseAt = t.at;
      if (r === DELIVERED_RANK && deliveredAt === null) deliveredAt = t.at;
    }
    const delivered = best !== null && rank(best) === DELIVERED_RANK;
    return {
      state: best?.name ?? null,
      rank: best ? rank(best) : 0,
      exception: !delivered && lastException && lastException.at > lastPhysical ? lastException.name : null,
      timeline,
      leftWarehouseAt,
      deliveredAt,
      lastEventAt: timeline.length > 0 ? timeline[timeline.length - 1]!.at : null,
    };
  }
}
