import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parseIsoWithOffset } from '../domain/time.js';
import { AllocateRequest } from '../domain/schemas.js';
import { DAILY_ORDERS, PROMOTION_DEFAULTS, PROMOTION_LIMITS, promotionExtraOrders, promotionOptions, WORKSHOP_COUNT } from '../demo/orders.js';
import type { NetworkContext } from '../network/context.js';

/**
 * The what-if scenario format (issue 6). A scenario is a network (the bundled one), a timed
 * stream of events (inline, an NDJSON file beside the scenario, or a seeded generator), overrides
 * (closures, courier capacity factors, demand factor, lock factor) and the policies to compare.
 * An order event is exactly {"at","type":"order","order":<the POST /v1/allocate body>}, so an
 * ERP's order log replays as it is. The JSON Schema is `ScenarioSchema` (written to
 * data/scenarios/scenario.schema.json by `npm run replay -- --schema`).
 */

/** Longest generated stream: a leap year of days (a longer horizon is replayed as several scenarios). */
export const MAX_GENERATED_DAYS = 366;

const Iso = Type.String({ minLength: 1, description: 'ISO-8601 with offset.' });

export const OrderEvent = Type.Object({ at: Iso, type: Type.Literal('order'), order: AllocateRequest }, { additionalProperties: false });
export const ReceiptEvent = Type.Object(
  { at: Iso, type: Type.Literal('receipt'), warehouseId: Type.String(), sku: Type.String(), qty: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);
export const CapacityEvent = Type.Object(
  {
    at: Iso,
    type: Type.Literal('capacity'),
    courierId: Type.String(),
    provinceCodes: Type.Array(Type.String({ pattern: '^\\d{6}$' }), { minItems: 1 }),
    parcels: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    kg: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export const ClosureEvent = Type.Object(
  { at: Iso, type: Type.Literal('closure'), warehouseId: Type.String(), until: Iso },
  { additionalProperties: false, description: 'The warehouse ships nothing from at until until.' },
);
export const ScenarioEvent = Type.Union([OrderEvent, ReceiptEvent, CapacityEvent, ClosureEvent]);
export type ScenarioEvent = Static<typeof ScenarioEvent>;

const L = PROMOTION_LIMITS;
const D = PROMOTION_DEFAULTS;
/** The generator's promotion day (src/demo/orders.ts PromotionOptions; docs/replays.md "A promotion day"). */
const Promotion = Type.Object(
  {
    thresholdCny: Type.Optional(Type.Number({ minimum: L.thresholdCny.min, maximum: L.thresholdCny.max, default: D.thresholdCny, description: `Order amount (list prices, CNY) from which an order collects the discount; default ${D.thresholdCny} (the case's "spend 5,000").` })),
    discountCny: Type.Optional(Type.Number({ minimum: L.discountCny.min, maximum: L.discountCny.max, default: D.discountCny, description: `Discount per order at or above the threshold, CNY, below thresholdCny; default ${D.discountCny} (the case's "save 800").` })),
    stockUpShare: Type.Optional(Type.Number({ minimum: L.stockUpShare.min, maximum: L.stockUpShare.max, default: D.stockUpShare, description: `Share (0..1) of the ${WORKSHOP_COUNT} repair shops that place one stock-up purchase on each day; default ${D.stockUpShare}.` })),
    ordersPerStockUp: Type.Optional(Type.Integer({ minimum: L.ordersPerStockUp.min, maximum: L.ordersPerStockUp.max, default: D.ordersPerStockUp, description: `Orders at or above the threshold a stock-up purchase is filled for and split into; default ${D.ordersPerStockUp} (the case's split into 3).` })),
    maxGapMinutes: Type.Optional(Type.Number({ minimum: L.maxGapMinutes.min, maximum: L.maxGapMinutes.max, default: D.maxGapMinutes, description: `Longest gap between consecutive orders of a split purchase, minutes (each gap uniform from 1 minute to this); default ${D.maxGapMinutes}.` })),
    active: Type.Optional(Type.Boolean({ default: D.active, description: 'False: the same purchases (same seed) each as one order without discount: the pre-promotion level (CLI --no-promotion).' })),
  },
  {
    additionalProperties: false,
    description:
      "A \"spend X, save Y\" promotion day: repair shops stock up and split each purchase worth at least twice the threshold into orders at or above it, minutes apart, to the same address; every order carries amountCny and discountCny. Absent: ordinary days, orders without amounts.",
  },
);

export const ScenarioSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.String()),
    network: Type.Optional(Type.Literal('bundled', { description: 'The bundled East-China network (the only one for now).' })),
    events: Type.Optional(Type.Array(ScenarioEvent, { description: 'Inline events, in any order (they are sorted by time).' })),
    eventsFile: Type.Optional(Type.String({ description: 'An NDJSON file of events, relative to the scenario file.' })),
    generator: Type.Optional(
      Type.Object(
        {
          seed: Type.Integer(),
          profile: Type.Union([Type.Literal('normal'), Type.Literal('double11')]),
          startDate: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'First local day.' }),
          days: Type.Integer({ minimum: 1, maximum: MAX_GENERATED_DAYS, description: `Local days to generate, at most ${MAX_GENERATED_DAYS} (a year; the replay streams them, so memory stays flat).` }),
          promotion: Type.Optional(Promotion),
        },
        { additionalProperties: false, description: 'Seeded demo orders (src/demo/orders.ts), day by day.' },
      ),
    ),
    overrides: Type.Optional(
      Type.Object(
        {
          demandFactor: Type.Optional(Type.Number({ minimum: 0.01, maximum: 20, description: 'Orders x f: every generated day is drawn f times over (distinct order ids).' })),
          closures: Type.Optional(Type.Array(Type.Object({ warehouseId: Type.String(), from: Iso, to: Iso }, { additionalProperties: false }))),
          courierCapacity: Type.Optional(
            Type.Array(
              Type.Object(
                { courierId: Type.String(), provinceCodes: Type.Array(Type.String({ pattern: '^\\d{6}$' }), { minItems: 1 }), factor: Type.Number({ minimum: 0, maximum: 100 }), from: Iso },
                { additionalProperties: false, description: "From `from` on, the courier's daily parcels in those provinces x factor." },
              ),
            ),
          ),
          radiusLockFactor: Type.Optional(Type.Number({ minimum: 1, maximum: 10 })),
          mergeWindowMinutes: Type.Optional(
            Type.Number({ minimum: 0, maximum: 1_440, description: 'MERGE_WINDOW_MINUTES for this replay, minutes; 0 = no joining and no merging (CLI --no-merge); absent: the configured value.' }),
          ),
          lots: Type.Optional(
            Type.Boolean({
              description:
                "false: shelf-life SKUs' stock without lots (no FEFO, no near-expiry or write-off figures), as replays were before lots (CLI --no-lots); absent or true: the bundled stock split into lots dated from the stream's first local day (src/network/lots.ts), and what a receipt or replenishment brings as a fresh lot with its whole shelf life.",
            }),
          ),
          replenishEveryDays: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 91, description: "Every k days (at the first event of the day) each warehouse's on-hand is topped up to its bundled level; absent: no replenishment." }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    policies: Type.Optional(Type.Array(Type.Union([Type.Literal('nearest'), Type.Literal('radius-rule'), Type.Literal('myopic'), Type.Literal('optimized')]), { minItems: 1, uniqueItems: true })),
    seed: Type.Optional(Type.Integer({ description: 'Seed of the delivery simulator (default 1).' })),
    clairvoyant: Type.Optional(
      Type.Boolean({
        description:
          "Also solve the whole-stream clairvoyant model (docs/replays.md): its LP bound and plan, and each policy's gap to the bound and share of the gap captured. Over the API at most REPLAY_CLAIRVOYANT_MAX_ORDERS orders (a 3,500-order day takes about a minute).",
      }),
    ),
  },
  { additionalProperties: false },
);
export type Scenario = Static<typeof ScenarioSchema>;

export class ScenarioError extends Error {
  override name = 'ScenarioError';
}

/** Reads and validates a scenario file (and its NDJSON events file), naming every problem. */
export function loadScenario(path: string): { scenario: Scenario; fileEvents: ScenarioEvent[] } {
  if (!existsSync(path)) throw new ScenarioError(`no scenario file ${path}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ScenarioError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  const errors = [...Value.Errors(ScenarioSchema, raw)].slice(0, 10).map((e) => `${e.path || '/'}: ${e.message}`);
  if (errors.length > 0) throw new ScenarioError(`${path} is not a valid scenario:\n  ${errors.join('\n  ')}`);
  const scenario = raw as Scenario;
  if (!scenario.events && !scenario.eventsFile && !scenario.generator) throw new ScenarioError(`${path}: give events, eventsFile or generator`);
  const fileEvents: ScenarioEvent[] = [];
  if (scenario.eventsFile) {
    const file = resolve(dirname(path), scenario.eventsFile);
    if (!existsSync(file)) throw new ScenarioError(`${path}: eventsFile ${file} does not exist`);
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (line.trim() === '') return;
        let e: unknown;
        try {
          e = JSON.parse(line);
        } catch {
          throw new ScenarioError(`${file}:${i + 1}: not JSON`);
        }
        const errs = [...Value.Errors(ScenarioEvent, e)];
        if (errs.length > 0) throw new ScenarioError(`${file}:${i + 1}: not a scenario event (${errs[0]!.path || '/'}: ${errs[0]!.message})`);
        fileEvents.push(e as ScenarioEvent);
      });
  }
  const bad = badEventTimes([...(scenario.events ?? []), ...fileEvents]);
  if (bad.length > 0) throw new ScenarioError(`${path}: ${bad.slice(0, 5).join('; ')}`);
  return { scenario, fileEvents };
}

/** Names every event whose time is not ISO-8601 with an offset (empty when all are). */
export function badEventTimes(events: readonly ScenarioEvent[]): string[] {
  const bad: string[] = [];
  events.forEach((e, i) => {
    const times = [e.at, ...(e.type === 'closure' ? [e.until] : [])];
    for (const t of times) if (parseIsoWithOffset(t) === null) bad.push(`event ${i} (${e.type}): ${JSON.stringify(t)} is not ISO-8601 with an offset`);
  });
  return bad;
}

/** Mean orders a day of the scenario's generator draws (src/demo/orders.ts volumes and its promotion), before the demand factor. */
export function generatedDailyOrders(g: NonNullable<Scenario['generator']>): number {
  return DAILY_ORDERS[g.profile] + (g.promotion ? promotionExtraOrders(promotionOptions(g.promotion)) : 0);
}

/** How many orders the scenario replays per policy: its inline order events and what its generator draws. */
export function scenarioOrders(s: Scenario, fileEvents: readonly ScenarioEvent[] = []): number {
  const inline = [...(s.events ?? []), ...fileEvents].filter((e) => e.type === 'order').length;
  const g = s.generator;
  return inline + (g ? Math.ceil(g.days * generatedDailyOrders(g) * (s.overrides?.demandFactor ?? 1)) : 0);
}

/** A local calendar day YYYY-MM-DD that exists (no 30 February, no month 13), in years 2000-2100. */
function isCalendarDay(day: string): boolean {
  const d = new Date(`${day}T00:00:00Z`);
  return Number.isFinite(d.getTime()) && d.toISOString().slice(0, 10) === day && d.getUTCFullYear() >= 2000 && d.getUTCFullYear() <= 2100;
}

/**
 * What the schema cannot see, checked before a replay starts rather than failing it later: a
 * generator start that is a real day, warehouses, SKUs, couriers and provinces of the network,
 * closures that end after they start. Empty when the scenario is sound.
 */
export function scenarioProblems(s: Scenario, net: NetworkContext, fileEvents: readonly ScenarioEvent[] = []): string[] {
  const problems: string[] = [];
  const provinces = new Set(net.regionsGeoJson.features.map((f) => f.properties.provinceCode));
  const warehouse = (id: string, where: string) => {
    if (!net.warehouseById.has(id)) problems.push(`${where}: unknown warehouse ${id}`);
  };
  const courier = (id: string, where: string) => {
    if (!net.couriers.some((c) => c.id === id)) problems.push(`${where}: unknown courier ${id}`);
  };
  const province = (codes: readonly string[], where: string) => {
    for (const p of codes) if (!provinces.has(p)) problems.push(`${where}: unknown province ${p}`);
  };
  const window = (from: string, to: string, where: string) => {
    const a = parseIsoWithOffset(from);
    const b = parseIsoWithOffset(to);
    if (a === null || b === null) problems.push(`${where}: times must be ISO-8601 with an offset`);
    else if (b <= a) problems.push(`${where}: ends (${to}) before it starts (${from})`);
  };
  if (s.generator && !isCalendarDay(s.generator.startDate)) problems.push(`generator.startDate ${s.generator.startDate} is not a calendar day (2000-2100)`);
  if (s.generator?.promotion) {
    try {
      promotionOptions(s.generator.promotion);
    } catch (e) {
      problems.push(`generator.${(e as Error).message}`);
    }
  }
  [...(s.events ?? []), ...fileEvents].forEach((e, i) => {
    const where = `event ${i} (${e.type})`;
    if (e.type === 'receipt') {
      warehouse(e.warehouseId, where);
      if (!net.skuByCode.has(e.sku)) problems.push(`${where}: unknown SKU ${e.sku}`);
    } else if (e.type === 'closure') {
      warehouse(e.warehouseId, where);
      window(e.at, e.until, where);
    } else if (e.type === 'capacity') {
      courier(e.courierId, where);
      province(e.provinceCodes, where);
    }
  });
  (s.overrides?.closures ?? []).forEach((c, i) => {
    warehouse(c.warehouseId, `overrides.closures[${i}]`);
    window(c.from, c.to, `overrides.closures[${i}]`);
  });
  (s.overrides?.courierCapacity ?? []).forEach((c, i) => {
    courier(c.courierId, `overrides.courierCapacity[${i}]`);
    province(c.provinceCodes, `overrides.courierCapacity[${i}]`);
    if (parseIsoWithOffset(c.from) === null) problems.push(`overrides.courierCapacity[${i}]: from must be ISO-8601 with an offset`);
  });
  return problems;
}
