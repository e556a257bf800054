/**
 * The input every decision table sees (docs/rules.md, "Inputs"): the fields a table's input
 * columns may read. A column naming any other field is refused on save (422), so a typo cannot
 * make a rule silently never fire. Money in CNY, times ISO-8601 with an offset, durations in hours.
 */

/** Order fields, read by any table as `order.<name>`. */
export const ORDER_FIELDS = {
  orderId: 'The ERP order number.',
  customerId: 'The ordering customer.',
  customerTier: 'The customer tier as the ERP sends it (e.g. KEY, A, B); null when not sent.',
  regionCode: 'Destination region code (prefecture adcode in East China, province code elsewhere).',
  regionName: 'Destination region name (English).',
  provinceCode: 'Destination province code, e.g. 320000 for Jiangsu.',
  amountCny: 'Order amount, CNY: the sum of qty x price over the lines (catalogue price where the ERP sent none).',
  lineCount: 'Number of order lines.',
  units: 'Units over all lines.',
  skus: 'The SKUs of the lines (a list: `contains($, "BRK-0001")`, or `some($, startsWith(#, "RECY-"))`).',
  placedAt: 'When the order was placed (ISO-8601 with offset).',
  promisedBy: 'The promise (ISO-8601 with offset).',
  promiseHours: 'Hours from placedAt to promisedBy.',
  allowSplit: 'Whether the ERP allows more than one shipment.',
  attributes: "The ERP's own attributes, passed through (`order.attributes.channel`, …).",
} as const;

/** Line fields, read by a per-line table as `line.<name>` (the table then runs once per line). */
export const LINE_FIELDS = {
  sku: 'The SKU, e.g. RECY-ALT-0001.',
  qty: 'Units.',
  priceCny: 'Unit price, CNY (the ERP\'s, else the catalogue\'s).',
  amountCny: 'qty x priceCny, CNY.',
  category: 'The catalogue category of the SKU.',
  linkedCoreReturn: 'The old part returned against this line (the ERP\'s core-return reference); null when none is linked.',
} as const;

/** Plan fields, read as `plan.<name>`: a table that reads them runs after the plan (after and intercept actions only). */
export const PLAN_FIELDS = {
  status: 'allocated | partial | backordered.',
  warehouses: 'The shipping warehouses (a list).',
  couriers: 'The couriers (a list).',
  costCny: 'The money cost of the plan, CNY.',
  eta: 'The latest shipment ETA (ISO-8601 with offset); null with no shipment.',
  late: 'True when a shipment arrives after the promise.',
  lateDays: 'Whole days the latest shipment is late (0 when on time).',
  split: 'True when the plan ships in more than one shipment.',
  shipmentCount: 'Number of shipments.',
} as const;

export type FieldScope = 'order' | 'line' | 'plan';

/** The scope of an input column's field, or null when the field is unknown. */
export function fieldScope(field: string): FieldScope | null {
  const dot = field.indexOf('.');
  if (dot < 0) return null;
  const head = field.slice(0, dot);
  const name = field.slice(dot + 1);
  if (head === 'order') {
    if (name.startsWith('attributes.') && name.length > 'attributes.'.length) return 'order';
    return Object.hasOwn(ORDER_FIELDS, name) ? 'order' : null;
  }
  if (head === 'line') return Object.hasOwn(LINE_FIELDS, name) ? 'line' : null;
  if (head === 'plan') return Object.hasOwn(PLAN_FIELDS, name) ? 'plan' : null;
  return null;
}
