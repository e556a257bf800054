import { CloneType, Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { ERRORS, type ErrorCode } from '../errors.js';

/**
 * Request and response schemas of HTTP API v1. The same objects validate requests (fastify + ajv)
 * and generate the OpenAPI document at /docs/json, so the contract and the code cannot drift.
 * Time: ISO-8601 with offset; money: CNY rounded to 0.01; distance: km; weight: kg.
 *
 * A schema with an `$id` is a named component: registered once with fastify's addSchema
 * (src/api/openapi.ts), listed in the document's components.schemas, and used through ref() (a
 * $ref) everywhere else, so generated clients get one named type per concept.
 */

/** A $ref to a named component, typed as the component. */
export const ref = <T extends TSchema>(schema: T, description?: string): TUnsafe<Static<T>> => {
  if (typeof schema.$id !== 'string') throw new Error('ref() needs a schema with an $id');
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id, description !== undefined ? { description } : {}));
};

/** A copy of a schema as the named component `name` (the original stays usable inline). */
export const named = <T extends TSchema>(name: string, schema: T, description?: string): T =>
  CloneType(schema, { $id: name, ...(description !== undefined ? { description } : {}) });

const IsoTime = (description: string) =>
  Type.String({
    description: `${description} ISO-8601 with an offset, e.g. 2026-11-11T10:15:00+08:00.`,
    // An explicit offset is required: a bare local time is ambiguous across the ERP boundary.
    pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$',
  });

const Id = (description: string) => Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$', description });

export const SkuCode = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'Catalogue SKU code, e.g. BRK-0001.' });

/** A lot id of a shelf-life SKU's stock (the WMS's batch number). */
export const LotId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$', description: 'Lot (batch) id of shelf-life stock, e.g. L20261201.' });
/** A lot's expiry day, local (UTC+8 by default): the lot may not be shipped to arrive on or after it. */
export const ExpiryDay = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'Expiry day of the lot, YYYY-MM-DD (local time).' });

export const OrderLine = Type.Object(
  {
    sku: SkuCode,
    qty: Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Units, whole, > 0.' }),
    priceCny: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9, description: "Unit price, CNY, as the ERP sells it (business rules read it; the catalogue's list price when absent)." })),
    linkedCoreReturn: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$', description: 'For a remanufactured (RECY-) line: the core-return reference of the old part the customer hands back (business rules read it).' }),
    ),
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
    lines: Type.Array(OrderLine, {
      minItems: 1,
      maxItems: 1_000,
      description: 'Order lines; the same SKU twice is merged (at most 1,000,000 units of a SKU after merging). At most MAX_LINES_PER_ORDER lines (default 100; never more than 1,000).',
    }),
    allowSplit: Type.Optional(Type.Boolean({ default: true, description: 'False: one shipment at most.' })),
    merge: Type.Optional(
      Type.Boolean({
        default: true,
        description: "False: the order opts out of merging: it joins no open shipment of the same customer and address, and later orders do not join its shipments (docs/cost-model.md, open shipments).",
      }),
    ),
    amountCny: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9, description: "The order's amount as the ERP bills it, CNY, before its discount; shown in its merge group (GET /v1/orders/{id}). Merging changes no amount." })),
    discountCny: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9, description: "The order's discount as the ERP granted it (e.g. a promotion's 800 off 5,000), CNY; shown in its merge group. Merging changes no discount: the master keeps its discount." })),

    customerTier: Type.Optional(Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9._-]+$', description: 'The customer tier as the ERP keeps it (e.g. KEY, A, B); business rules read it.' })),
    attributes: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]{0,39}$' }), Type.Union([Type.String({ maxLength: 200 }), Type.Number(), Type.Boolean()]), {
        maxProperties: 50,
        description: "The ERP's own attributes, passed through to the business rules (order.attributes.<name>); strings, numbers or booleans.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type AllocateRequest = Static<typeof AllocateRequest>;
export const AllocateRequestComponent = named('AllocateRequest', AllocateRequest, 'One ERP order to decide: where from, by which courier, at what cost.');

const Money = (description: string) => Type.Number({ description: `${description}, CNY (rounded to 0.01).` });

export const ShipmentCostSchema = Type.Object(
  {
  freight: Money('Courier freight: lane base per parcel + per-kg x weight'),
  transfer: Money('Line-haul transfer of stock into the shipping warehouse'),
  storage: Money('Storage occupation while stock waits'),
  lateness: Money('Penalty for ETA beyond promisedBy'),
  split: Money('Penalty for this shipment being an extra one'),
  total: Money('Sum of the above'),
  },
  { $id: 'ShipmentCost', description: 'What one shipment costs, CNY.' },
);

export const Shipment = Type.Object({
  warehouseId: Type.String(),
  courierId: Type.String(),
  trackingNumber: Type.String({ description: "The courier's waybill number for this shipment; a reroute gives a new one." }),
  lines: Type.Array(
    Type.Object({
      sku: Type.String(),
      qty: Type.Integer(),
      lots: Type.Optional(
        Type.Array(
          Type.Object({
            lot: Type.String(),
            expiresOn: Type.String({ description: 'Expiry day, YYYY-MM-DD (local).' }),
            fromWarehouseId: Type.String({ description: 'Where the lot is kept: the shipping warehouse, or a transfer source.' }),
            qty: Type.Integer(),
            nearExpiry: Type.Optional(Type.Boolean({ description: 'True when the lot was near expiry (its last sellable day within NEAR_EXPIRY_WINDOW_DAYS) when picked.' })),
          }),
          { description: 'For a shelf-life SKU: the lots the WMS picks, earliest expiry first; their units add up to qty (units kept without a lot, from before lots, are not listed).' },
        ),
      ),
    }),
  ),
  transfers: Type.Array(
    Type.Object({ fromWarehouseId: Type.String(), sku: Type.String(), qty: Type.Integer() }),
    { description: 'Units brought into warehouseId by line haul before shipping (part of lines).' },
  ),
  weightKg: Type.Number({ description: 'Shipment weight, kg.' }),
  parcels: Type.Integer({ description: 'Parcels the shipment travels as (the courier limits parcel weight).' }),
  distanceKm: Type.Number({ description: 'Road km estimate from the warehouse to the destination.' }),
  waybillNote: Type.Optional(Type.String({ description: 'Printed on the waybill, from the business rules\' WAYBILL_NOTE actions (e.g. 请收旧件); absent when no rule wrote one.' })),
  pickupAt: Type.Optional(Type.String({ description: "When the courier collects the shipment at the warehouse (one of its collection waves), ISO-8601 with offset." })),
  eta: Type.String({ description: 'Estimated delivery: the lane\'s delivery window end, transit days after pickupAt; ISO-8601 with offset.' }),
  cost: ref(ShipmentCostSchema),
  joinedOrderId: Type.Optional(Type.String({ description: "Set when this shipment joined an open shipment of the same customer and address (not picked up yet): the order that opened it, the master of the group. The shipment shares that order's waybill (trackingNumber), warehouse, courier, wave and ETA, and its freight is only the per-kg freight of its weight; parcels is 0 (it adds none)." })),
}, { $id: 'Shipment', description: 'One parcel group from one warehouse by one courier.' });

export const Reason = Type.Object({
  warehouseId: Type.Union([Type.String(), Type.Null()], { description: 'The warehouse the reason is about; null for order-level reasons.' }),
  code: Type.String({ description: 'Reason code, see docs/reasons.md.' }),
  detail: Type.String(),
  costDelta: Type.Optional(Type.Number({ description: 'Extra cost of the alternative over the chosen plan, CNY.' })),
}, { $id: 'Reason', description: 'Why a warehouse was used or not (docs/reasons.md).' });

export const FiredRule = Type.Object({
  ruleset: Type.String(),
  version: Type.Integer(),
  rule: Type.String({ description: "The rule's name (its table row's rule cell)." }),
  table: Type.String({ description: 'The decision table it is a row of.' }),
  hook: Type.Union([Type.Literal('before'), Type.Literal('intercept'), Type.Literal('after')]),
  action: Type.String({ description: 'An action code (docs/rules.md).' }),
  params: Type.Record(Type.String(), Type.Unknown()),
  sku: Type.Union([Type.String(), Type.Null()], { description: 'The order line that fired it (per-line tables); null for an order-level rule.' }),
  applied: Type.Boolean({ description: 'False when precedence set it aside (note says why).' }),
  note: Type.Optional(Type.String()),
}, { $id: 'FiredRule', description: 'A rule that fired for the order and its action.' });

export const RulesOutcome = Type.Object({
  versions: Type.Array(Type.Object({ ruleset: Type.String(), version: Type.Integer() }), { description: 'The ruleset versions the decision ran.' }),
  fired: Type.Array(ref(FiredRule)),
  failed: Type.Array(
    Type.Object({
      ruleset: Type.String(),
      version: Type.Integer(),
      rule: Type.Union([Type.String(), Type.Null()], { description: 'The rule that failed; null when the whole ruleset failed to evaluate.' }),
      failMode: Type.Union([Type.Literal('open'), Type.Literal('closed')], { description: 'open: the order went on without the ruleset\'s failed rules; closed: the order is held (RULESET_FAILED).' }),
      error: Type.String(),
    }),
    { description: 'Rules that failed at run time: never silently.' },
  ),
  intercept: Type.Union([
    Type.Object({
      action: Type.Union([Type.Literal('HOLD_FOR_REVIEW'), Type.Literal('REFUSE')]),
      reason: Type.String({ description: 'The reason code the rule gave (RULESET_FAILED for a failClosed ruleset that failed).' }),
      ruleset: Type.String(),
      version: Type.Integer(),
      rule: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
  attributes: Type.Record(Type.String(), Type.String(), { description: 'Attributes set by SET_ATTRIBUTE rules.' }),
  tags: Type.Array(Type.String(), { description: 'Tags set by TAG rules.' }),
}, { $id: 'RulesOutcome', description: 'What the business rules did to the decision (docs/rules.md).' });

export const Decision = Type.Object({
  orderId: Type.String(),
  status: Type.Union([Type.Literal('allocated'), Type.Literal('partial'), Type.Literal('backordered'), Type.Literal('held'), Type.Literal('refused')], {
    description: 'held / refused: a business rule intercepted the order (rules.intercept says which and why); nothing was reserved.',
  }),
  mode: Type.Union([Type.Literal('radius-lock'), Type.Literal('optimized'), Type.Literal('fallback'), Type.Literal('rule'), Type.Literal('intercepted')], {
    description: 'radius-lock: the case rule; optimized: the exact optimum; fallback: the best plan found by the deadline; rule: a what-if baseline policy (ALLOCATION_POLICY), never in production; intercepted: a business rule held or refused the order.',
  }),
  shipments: Type.Array(ref(Shipment)),
  backordered: Type.Array(Type.Object({ sku: Type.String(), qty: Type.Integer() })),
  totalCost: Money('Sum of the shipments\' totals'),
  reasons: Type.Array(ref(Reason)),
  solver: Type.String({ description: 'Which solver answered: radius-lock | exact | highs | lp | greedy | none.' }),
  solveMicros: Type.Number({ description: "The solver's own wall time (or the radius-lock rule's), microseconds." }),
  searchNodes: Type.Integer({ description: 'Search nodes the solver explored (branch-and-bound nodes; 0 for rules and greedy).' }),
  decideMicros: Type.Number({ description: 'The whole decision: stock reads, candidates, solve, reservation, microseconds.' }),
  decidedAt: Type.String({ description: 'ISO-8601 with offset.' }),
  rules: Type.Optional(ref(RulesOutcome)),
}, { $id: 'Decision', description: 'The dispatch decision for one order: shipments, cost, and why.' });
export type Decision = Static<typeof Decision>;

export const OrderView = Type.Object({
  orderId: Type.String(),
  state: Type.Union([Type.Literal('reserved'), Type.Literal('committed'), Type.Literal('cancelled'), Type.Literal('expired'), Type.Literal('backordered'), Type.Literal('held'), Type.Literal('refused')], {
    description: 'reserved: stock held until it ships; committed: shipped; cancelled; expired: not shipped within RESERVATION_TTL_MINUTES, stock returned; backordered: nothing reserved; held / refused: a business rule intercepted it, nothing reserved.',
  }),
  reservationExpiresAt: Type.Union([Type.String(), Type.Null()], { description: 'When an unshipped reservation expires by itself (ISO-8601 with offset); null without one.' }),
  decision: ref(Decision),
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
  groups: Type.Optional(
    Type.Array(
      Type.Object({
        waybill: Type.String({ description: 'The tracking number the orders share.' }),
        masterOrderId: Type.String({ description: 'The first order: it opened the shipment and keeps its discount.' }),
        childOrderIds: Type.Array(Type.String(), { description: 'The orders that joined it, in joining order.' }),
        merged: Type.Boolean({ description: 'MERGE_MIN_ORDERS or more orders share the waybill: a merged group.' }),
        open: Type.Boolean({ description: 'Not picked up yet: later orders within MERGE_WINDOW_MINUTES of the master may still join.' }),
        pickupAt: Type.String({ description: 'ISO-8601 with offset.' }),
        savedCny: Type.Number({ description: 'Freight the children saved by joining instead of shipping alone (the base rate of the parcels they would have paid), CNY.' }),
        members: Type.Array(
          Type.Object({
            orderId: Type.String(),
            role: Type.Union([Type.Literal('master'), Type.Literal('child')]),
            weightKg: Type.Number({ description: 'kg the order put in the shipment.' }),
            placedAt: Type.String({ description: 'ISO-8601 with offset.' }),
            amountCny: Type.Optional(Type.Number({ description: 'CNY, as the ERP sent it.' })),
            discountCny: Type.Optional(Type.Number({ description: 'CNY, as the ERP sent it.' })),
          }),
        ),
      }),
      { description: "The waybills this order shares with other orders of the same customer and address (master and children); absent when it shares none." },
    ),
  ),
}, { $id: 'Order', description: 'An order: its decision and where it stands.' });

/** Every registry code, in registry order: the enum of the error body's code. */
const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.Unsafe<ErrorCode>({ type: 'string', enum: ERROR_CODES, description: 'The registry code (docs/errors.md); it alone decides what to do.' }),
        message: Type.String({ description: 'For people; may change between versions.' }),
        details: Type.Array(Type.Unknown(), { description: 'Structured details, e.g. the failing field per validation error.' }),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'Error', additionalProperties: false, description: 'Every error the service sends.' },
);

export const StockQuery = Type.Object(
  { warehouseId: Type.Optional(Id('Warehouse id filter.')), sku: Type.Optional(SkuCode) },
  { additionalProperties: false },
);

export const StockLevelSchema = Type.Object(
  {
  warehouseId: Type.String(),
  sku: Type.String(),
  onHand: Type.Integer(),
  free: Type.Integer({ description: 'Units any new order may take: onHand - reserved - locked.' }),
  reserved: Type.Integer({ description: 'Units held by open reservations.' }),
  locked: Type.Integer({ description: 'Units held by active customer stock locks.' }),
  lot: Type.Optional(Type.String({ description: 'The lot, for shelf-life SKUs (their stock is kept per lot).' })),
  expiresOn: Type.Optional(Type.String({ description: 'The lot\'s expiry day, YYYY-MM-DD (local).' })),
  },
  { $id: 'StockLevel', description: 'Stock of one SKU (of one lot, for shelf-life SKUs) in one warehouse: onHand = free + reserved + locked.' },
);
export const StockList = Type.Object({ items: Type.Array(ref(StockLevelSchema)) }, { $id: 'StockList' });

export const StockPut = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          warehouseId: Id('Warehouse id.'),
          sku: SkuCode,
          onHand: Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'Units on hand.' }),
          lot: Type.Optional(LotId),
          expiresOn: Type.Optional(ExpiryDay),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 10_000 },
    ),
  },
  { $id: 'StockPut', additionalProperties: false, description: 'A stock count: new on-hand quantities.' },
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
  { $id: 'LockCreate', additionalProperties: false, description: 'Units of one SKU to lock for one customer.' },
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
}, { $id: 'Lock', description: 'A customer stock lock.' });
export type LockView = Static<typeof LockView>;
