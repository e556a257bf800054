import { Type, type Static } from '@sinclair/typebox';

/**
 * Request and response schemas of HTTP API v1. The same objects validate requests (fastify + ajv)
 * and generate the OpenAPI document at /docs/json, so the contract and the code cannot drift.
 * Time: ISO-8601 with offset; money: CNY rounded to 0.01; distance: km; weight: kg.
 */

const IsoTime = (description: string) =>
  Type.String({
    description: `${description} ISO-8601 with an offset, e.g. 2026-11-11T10:15:00+08:00.`,
    // An explicit offset is required: a bare local time is ambiguous across the ERP boundary.
    pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$',
  });

const Id = (description: string) => Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$', description });

export const SkuCode = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'Catalogue SKU code, e.g. BRK-0001.' });

export const OrderLine = Type.Object(
  {
    sku: SkuCode,
    qty: Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Units, whole, > 0.' }),
  },
  { additionalProperties: false },
);

export const AllocateRequest = Type.Object(
  {
    orderId: Id('The ERP order number; the idempotency key.'),
    customerId: Id('The ordering customer.'),
    placedAt: Type.Optional(IsoTime('When the order was placed; defaults to the decision time.')),
    promisedBy: IsoTime('Latest promised delivery time.'),
    destination: Type.Object(
      {
        lon: Type.Number({ minimum: -180, maximum: 180, description: 'WGS84 longitude, degrees.' }),
        lat: Type.Number({ minimum: -90, maximum: 90, description: 'WGS84 latitude, degrees.' }),
        address: Type.Optional(Type.String({ maxLength: 500 })),
      },
      { additionalProperties: false },
    ),
    lines: Type.Array(OrderLine, { minItems: 1, description: 'Order lines; the same SKU twice is merged.' }),
    allowSplit: Type.Optional(Type.Boolean({ default: true, description: 'False: one shipment at most.' })),
  },
  { additionalProperties: false },
);
export type AllocateRequest = Static<typeof AllocateRequest>;

const Money = (description: string) => Type.Number({ description: `${description}, CNY (rounded to 0.01).` });

export const ShipmentCostSchema = Type.Object({
  freight: Money('Courier freight: lane base per parcel + per-kg x weight'),
  transfer: Money('Line-haul transfer of stock into the shipping warehouse'),
  storage: Money('Storage occupation while stock waits'),
  lateness: Money('Penalty for ETA beyond promisedBy'),
  split: Money('Penalty for this shipment being an extra one'),
  total: Money('Sum of the above'),
});

export const Shipment = Type.Object({
  warehouseId: Type.String(),
  courierId: Type.String(),
  trackingNumber: Type.String({ description: "The courier's waybill number for this shipment; a reroute gives a new one." }),
  lines: Type.Array(Type.Object({ sku: Type.String(), qty: Type.Integer() })),
  transfers: Type.Array(
    Type.Object({ fromWarehouseId: Type.String(), sku: Type.String(), qty: Type.Integer() }),
    { description: 'Units brought into warehouseId by line haul before shipping (part of lines).' },
  ),
  weightKg: Type.Number({ description: 'Shipment weight, kg.' }),
  parcels: Type.Integer({ description: 'Parcels the shipment travels as (the courier limits parcel weight).' }),
  distanceKm: Type.Number({ description: 'Road km estimate from the warehouse to the destination.' }),
  eta: Type.String({ description: 'Estimated delivery, ISO-8601 with offset.' }),
  cost: ShipmentCostSchema,
});

export const Reason = Type.Object({
  warehouseId: Type.Union([Type.String(), Type.Null()], { description: 'The warehouse the reason is about; null for order-level reasons.' }),
  code: Type.String({ description: 'Reason code, see docs/reasons.md.' }),
  detail: Type.String(),
  costDelta: Type.Optional(Type.Number({ description: 'Extra cost of the alternative over the chosen plan, CNY.' })),
});

export const Decision = Type.Object({
  orderId: Type.String(),
  status: Type.Union([Type.Literal('allocated'), Type.Literal('partial'), Type.Literal('backordered')]),
  mode: Type.Union([Type.Literal('radius-lock'), Type.Literal('optimized'), Type.Literal('fallback'), Type.Literal('rule')], {
    description: 'radius-lock: the case rule; optimized: the exact optimum; fallback: the best plan found by the deadline; rule: a what-if baseline policy (ALLOCATION_POLICY), never in production.',
  }),
  shipments: Type.Array(Shipment),
  backordered: Type.Array(Type.Object({ sku: Type.String(), qty: Type.Integer() })),
  totalCost: Money('Sum of the shipments\' totals'),
  reasons: Type.Array(Reason),
  solver: Type.String({ description: 'Which solver answered: radius-lock | exact | highs | lp | greedy | none.' }),
  solveMicros: Type.Number({ description: "The solver's own wall time (or the radius-lock rule's), microseconds." }),
  searchNodes: Type.Integer({ description: 'Search nodes the solver explored (branch-and-bound nodes; 0 for rules and greedy).' }),
  decideMicros: Type.Number({ description: 'The whole decision: stock reads, candidates, solve, reservation, microseconds.' }),
  decidedAt: Type.String({ description: 'ISO-8601 with offset.' }),
});
export type Decision = Static<typeof Decision>;

export const OrderView = Type.Object({
  orderId: Type.String(),
  state: Type.Union([Type.Literal('reserved'), Type.Literal('committed'), Type.Literal('cancelled'), Type.Literal('expired'), Type.Literal('backordered')], {
    description: 'reserved: stock held until it ships; committed: shipped; cancelled; expired: not shipped within RESERVATION_TTL_MINUTES, stock returned; backordered: nothing reserved.',
  }),
  reservationExpiresAt: Type.Union([Type.String(), Type.Null()], { description: 'When an unshipped reservation expires by itself (ISO-8601 with offset); null without one.' }),
  decision: Decision,
  reroutes: Type.Array(
    Type.Object({
      at: Type.String(),
      shipment: Type.Integer({ description: 'Index into decision.shipments.' }),
      fromCourierId: Type.String(),
      toCourierId: Type.String(),
      fromTrackingNumber: Type.String(),
      trackingNumber: Type.String(),
      code: Type.String({ description: 'COURIER_CAPACITY_GAP (docs/reasons.md).' }),
      detail: Type.String(),
      parcels: Type.Integer(),
      freight: Type.Number({ description: 'CNY.' }),
      lateness: Type.Number({ description: 'CNY.' }),
      eta: Type.String(),
    }),
    { description: 'Shipments moved to another courier after the decision (already applied to decision.shipments).' },
  ),
});

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'DSP_… code from docs/errors.md.' }),
    message: Type.String(),
    details: Type.Array(Type.Unknown()),
  }),
});

export const StockQuery = Type.Object(
  { warehouseId: Type.Optional(Id('Warehouse id filter.')), sku: Type.Optional(SkuCode) },
  { additionalProperties: false },
);

export const StockLevelSchema = Type.Object({
  warehouseId: Type.String(),
  sku: Type.String(),
  onHand: Type.Integer(),
  free: Type.Integer({ description: 'Units any new order may take: onHand - reserved - locked.' }),
  reserved: Type.Integer({ description: 'Units held by open reservations.' }),
  locked: Type.Integer({ description: 'Units held by active customer stock locks.' }),
});

export const StockPut = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          warehouseId: Id('Warehouse id.'),
          sku: SkuCode,
          onHand: Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'Units on hand.' }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 10_000 },
    ),
  },
  { additionalProperties: false },
);
export type StockPut = Static<typeof StockPut>;

export const LockCreate = Type.Object(
  {
    customerId: Type.String({ minLength: 1, maxLength: 64 }),
    sku: SkuCode,
    qty: Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Units to lock.' }),
    warehouseId: Type.Optional(Type.String({ minLength: 1, maxLength: 16, description: 'Where to lock; absent: the warehouse nearest the customer (a known store) or with the most free units that can hold the whole quantity.' })),
    expiresAt: Type.String({ minLength: 1, description: 'ISO-8601 with offset; the remaining units return to free stock by themselves at this time.' }),
  },
  { additionalProperties: false },
);
export type LockCreate = Static<typeof LockCreate>;

export const LockView = Type.Object({
  lockId: Type.String(),
  customerId: Type.String(),
  warehouseId: Type.String(),
  sku: Type.String(),
  qty: Type.Integer({ description: 'Units locked at creation.' }),
  remaining: Type.Integer({ description: "Units still locked for the owner (the rest is held or shipped by the owner's orders, or returned)." }),
  state: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('released')]),
  createdAt: Type.String({ description: 'ISO-8601 with offset.' }),
  expiresAt: Type.String({ description: 'ISO-8601 with offset.' }),
});
export type LockView = Static<typeof LockView>;
