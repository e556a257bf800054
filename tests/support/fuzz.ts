import fc from 'fast-check';

/**
 * Request generators for the OpenAPI-driven fuzz test (tests/api/fuzz.test.ts): fast-check
 * arbitraries from the document's JSON schemas (the subset the document uses: $ref, anyOf, enum,
 * nullable, objects, arrays, strings with patterns and lengths, bounded numbers), biased towards
 * values of the bundled network so that valid requests reach the decision code, not only
 * validation; and mutations of valid requests (wrong types, bounds, unicode, deep nesting,
 * prototype keys, huge arrays). json-schema-fast-check, the one library for this, is archived and
 * requires fast-check < 4.
 */

export interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  nullable?: boolean;
  anyOf?: Schema[];
  oneOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  not?: { const?: unknown };
  description?: string;
  default?: unknown;
}

/** What the generators know of the service: the network's ids and the ids created so far. */
export interface Vocabulary {
  skus: string[];
  warehouses: string[];
  couriers: string[];
  provinces: string[];
  customers: string[];
  wmsCodes: string[];
  /** Places inside the network's regions (the stores'). */
  places: { lon: number; lat: number }[];
  /** Epoch ms of the service clock. */
  now: number;
  /** Ids seen in successful answers, by kind; generators draw from them. */
  pools: { orderId: string[]; lockId: string[]; id: string[]; keyId: string[]; entryId: string[]; rulesetId: string[] };
  /** Valid rule graphs (JSON Decision Models) a ruleset draft may carry, so that some drafts are accepted. */
  ruleGraphs: unknown[];
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** ISO-8601 with an offset of `tzMin` minutes. */
function iso(ms: number, tzMin: number, seconds: boolean): string {
  const d = new Date(ms + tzMin * 60_000);
  const sign = tzMin >= 0 ? '+' : '-';
  const off = tzMin === 0 && seconds ? 'Z' : `${sign}${pad(Math.floor(Math.abs(tzMin) / 60))}:${pad(Math.abs(tzMin) % 60)}`;
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  return `${base}${seconds ? `:${pad(d.getUTCSeconds())}` : ''}${off}`;
}

/** Strings a careless or hostile client sends. */
export const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\ud800',
    '😀订单',
    '\u202eRTL',
    'é'.normalize('NFD'),
    '../../etc/passwd',
    '%00',
    '<script>alert(1)</script>',
    "' OR 1=1 --",
    '__proto__',
    'constructor',
    '{"$ne":null}',
    'x'.repeat(65),
    'x'.repeat(10_000),
    '2026-13-45T25:61:61+25:00',
    '2026-11-11T10:00:00',
    '1e309',
  ),
);

/** Any JSON value, including the ones that break naive code. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  fc.constantFrom(null, true, false, 0, -0, 1, -1, 0.5, 1e21, -1e21, 1.7976931348623157e308, Number.MAX_SAFE_INTEGER + 2, -2147483649, [], {}, [null], { '': null }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.jsonValue({ maxDepth: 3 }),
);

export class Generators {
  constructor(
    private readonly components: Record<string, Schema>,
    private readonly vocab: Vocabulary,
  ) {}

  resolve(schema: Schema): Schema {
    let s = schema;
    while (s.$ref) s = this.components[s.$ref.replace('#/components/schemas/', '')]!;
    return s;
  }

  /** A value the schema accepts (mostly: hints may pick unknown ids, which the schema allows). */
  valid(schema: Schema, name = '', depth = 0): fc.Arbitrary<unknown> {
    const s = this.resolve(schema);
    const alts = s.anyOf ?? s.oneOf;
    if (alts) return fc.oneof(...alts.map((a) => this.valid(a, name, depth + 1)));
    if (s.enum) return fc.constantFrom(...s.enum.filter((v) => v !== null || s.nullable));
    const base = this.typed(s, name, depth);
    return s.nullable ? fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 6, arbitrary: base }) : base;
  }

  private typed(s: Schema, name: string, depth: number): fc.Arbitrary<unknown> {
    const v = this.vocab;
    const pool = (kind: keyof Vocabulary['pools'], fresh: () => string) =>
      fc.nat().map((i) => (v.pools[kind].length > 0 && i % 3 === 0 ? v.pools[kind][i % v.pools[kind].length]! : fresh()));
    switch (s.type) {
      case 'string': {
        const desc = s.description ?? '';
        let hint: fc.Arbitrary<string> | undefined;
        if (name === 'sku') hint = fc.constantFrom(...v.skus.slice(0, 40), 'NOPE-1');
        else if (name === 'warehouseId') hint = fc.constantFrom(...v.warehouses, 'XX99');
        else if (name === 'courierId') hint = fc.constantFrom(...v.couriers, 'DHL');
        else if (name === 'customerId') hint = fc.constantFrom(...v.customers);
        else if (name === 'orderId') hint = pool('orderId', () => `FZ-${Math.random().toString(36).slice(2, 10)}`);
        else if (name === 'lockId') hint = pool('lockId', () => `LCK-${Math.random().toString(36).slice(2, 10)}`);
        else if (name === 'keyId') hint = pool('keyId', () => `key-${Math.random().toString(36).slice(2, 10)}`);
        else if (name === 'id') hint = pool('id', () => `RPL-${Math.random().toString(36).slice(2, 10)}`);
        else if (name === 'entryId') hint = pool('entryId', () => `OBX-${Math.random().toString(16).slice(2, 10)}`);
        else if (name === 'rulesetId') hint = pool('rulesetId', () => `fz-${Math.random().toString(36).slice(2, 10)}`);
        else if (name === 'version' && s.pattern !== undefined) hint = fc.constantFrom('1', '2', '3');
        else if (name === 'code' && /WMS/.test(desc)) hint = fc.constantFrom(...v.wmsCodes, 'BOGUS_CODE');
        else if (/ISO-8601/.test(desc) || ['at', 'until', 'expiresAt', 'placedAt', 'promisedBy'].includes(name)) {
          // Mostly times that make sense for the field (a promise ahead, a placement just before now), sometimes any.
          const [lo, hi] = name === 'promisedBy' ? [4 * 3_600, 10 * 86_400] : name === 'placedAt' ? [-3_600, 0] : name === 'at' ? [-2 * 86_400, 600] : [-3 * 86_400, 100 * 86_400];
          const sec = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: lo, max: hi }) }, { weight: 1, arbitrary: fc.integer({ min: -30 * 86_400, max: 200 * 86_400 }) });
          hint = fc.tuple(sec, fc.constantFrom(480, 0, -300), fc.boolean()).map(([x, tz, secs]) => iso(v.now + x * 1000, tz, secs));
        }
        else if (s.pattern?.includes('\\d{6}')) hint = fc.constantFrom(...v.provinces, ...(s.pattern.includes('*') ? ['*'] : []), '999999');
        else if (s.pattern?.startsWith('^\\d{4}-\\d{2}-\\d{2}$')) hint = fc.integer({ min: -2, max: 5 }).map((d) => new Date(v.now + d * 86_400_000 + 8 * 3_600_000).toISOString().slice(0, 10));
        const generic = s.pattern
          ? fc.stringMatching(new RegExp(s.pattern)).filter((x) => x.length >= (s.minLength ?? 0) && x.length <= (s.maxLength ?? Infinity))
          : fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 24, 24), unit: 'grapheme' });
        return hint ? fc.oneof({ weight: 8, arbitrary: hint }, { weight: 1, arbitrary: generic }) : generic;
      }
      case 'integer': {
        const lo = s.minimum ?? -1_000_000;
        const hi = s.maximum ?? 1_000_000;
        const small = fc.integer({ min: Math.max(lo, name === 'delta' ? -20 : 0), max: Math.min(hi, 50) });
        const int = fc.oneof({ weight: 4, arbitrary: small }, { weight: 1, arbitrary: fc.integer({ min: lo, max: hi }) });
        // A ruleset version (a rollback's target): mostly one that can exist, else a rollback reaches
        // its success path only by chance (a CI run of 20,000 cases once never did).
        if (name === 'version') return fc.oneof({ weight: 8, arbitrary: fc.constantFrom(1, 2, 3).filter((x) => x >= lo && x <= hi) }, { weight: 1, arbitrary: int });
        return s.not && 'const' in s.not ? int.map((x) => (x === s.not!.const ? 1 : x)) : int;
      }
      case 'number': {
        const lo = s.minimum ?? -1e6;
        const hi = s.maximum ?? 1e6;
        if (name === 'lon') return fc.oneof(fc.double({ min: 116, max: 123, noNaN: true }), fc.double({ min: lo, max: hi, noNaN: true }));
        if (name === 'lat') return fc.oneof(fc.double({ min: 27, max: 35, noNaN: true }), fc.double({ min: lo, max: hi, noNaN: true }));
        return fc.oneof(fc.double({ min: Math.max(lo, 0), max: Math.min(hi, 100), noNaN: true }), fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true }));
      }
      case 'boolean':
        return fc.boolean();
      case 'array': {
        const max = Math.min(s.maxItems ?? 4, name === 'events' ? 3 : 4);
        return fc.array(this.valid(s.items ?? {}, singular(name), depth + 1), { minLength: s.minItems ?? 0, maxLength: Math.max(max, s.minItems ?? 0) });
      }
      case 'object':
      case undefined: {
        if (!s.properties) return s.type === 'object' ? fc.constant({}) : fc.jsonValue({ maxDepth: 2 });
        if (name === 'graph' && this.vocab.ruleGraphs.length > 0) {
          return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...this.vocab.ruleGraphs) }, { weight: 1, arbitrary: fc.record(Object.fromEntries(Object.entries(s.properties).map(([k, p]) => [k, this.valid(p, k, depth + 1)]))) });
        }
        if (name === 'destination' && this.vocab.places.length > 0) {
          const generic = fc.record({ lon: this.valid(s.properties.lon!, 'lon'), lat: this.valid(s.properties.lat!, 'lat') });
          return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...this.vocab.places) }, { weight: 1, arbitrary: generic });
        }
        // Scenario generators: one day at most, so a replay that runs stays small.
        const props = Object.entries(s.properties).map(([k, p]) => [k, k === 'days' ? fc.constant(1) : this.valid(p, k, depth + 1)] as const);
        return fc.record(Object.fromEntries(props), { requiredKeys: s.required ?? [] });
      }
      default:
        return fc.constant(null);
    }
  }
}

const singular = (name: string) => (name.endsWith('ies') ? `${name.slice(0, -3)}y` : name.endsWith('s') ? name.slice(0, -1) : name);

/** Every place in a JSON value: the path of keys/indices to it. */
function places(value: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(path);
  if (Array.isArray(value)) value.forEach((v, i) => places(v, [...path, i], out));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) places(v, [...path, k], out);
  return out;
}

function setAt(root: unknown, path: (string | number)[], fn: (old: unknown, parent: unknown, key: string | number) => void): unknown {
  const copy = structuredClone(root);
  if (path.length === 0) return copy;
  let parent = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const key = path[path.length - 1]!;
  fn(parent[key], parent, key);
  return copy;
}

/** Defines an own enumerable property even for "__proto__", so JSON.stringify writes it. */
function own(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Deep nesting is written into the JSON text (toJson), not built as objects: the test's own
 * JSON.stringify and structuredClone would overflow the stack on it first.
 */
const deep = (n: number, kind: 'array' | 'object') => `@@DEEP:${kind}:${n}@@`;

/** The JSON text of a (possibly mutated) body. */
export function toJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (!text.includes('@@')) return text;
  return text
    .replace(/"@@DEEP:(array|object):(\d+)@@"/g, (_m, kind: string, n: string) =>
      kind === 'array' ? `${'['.repeat(Number(n))}1${']'.repeat(Number(n))}` : `${'{"a":'.repeat(Number(n))}1${'}'.repeat(Number(n))}`,
    )
    .replace(/"@@HUGE:(\d+):((?:[^"\\]|\\.)*)@@"/g, (_m, n: string, item: string) => `[${new Array<string>(Number(n)).fill(JSON.parse(`"${item}"`) as string).join(',')}]`);
}

export type Mutation =
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'delete'; at: number }
  | { kind: 'extra'; at: number; key: string; value: unknown }
  | { kind: 'bound'; at: number; delta: number }
  | { kind: 'deep'; at: number; depth: number; shape: 'array' | 'object' }
  | { kind: 'huge'; at: number; length: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: nastyValue }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('extra' as const),
    at: fc.nat(),
    key: fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', '$ref', '', 'toString', 'hasOwnProperty'), fc.string({ maxLength: 8 })),
    value: fc.oneof(fc.constant({ polluted: true }), nastyValue),
  }),
  fc.record({ kind: fc.constant('bound' as const), at: fc.nat(), delta: fc.constantFrom(-1, 1, 0.5, -0.5, 1e9, -1e9, 1e300) }),
  fc.record({ kind: fc.constant('deep' as const), at: fc.nat(), depth: fc.constantFrom(50, 1_000, 20_000), shape: fc.constantFrom('array' as const, 'object' as const) }),
  fc.record({
    kind: fc.constant('huge' as const),
    at: fc.nat(),
    // 120,000 items make a body near the 1 MiB limit (tens of ms each): rarer.
    length: fc.oneof({ weight: 10, arbitrary: fc.constantFrom(1_001, 10_001) }, { weight: 1, arbitrary: fc.constant(120_000) }),
  }),
);

/** The body with one mutation applied at one of its places. */
export function mutate(body: unknown, m: Mutation): unknown {
  const all = places(body);
  const path = all[m.at % all.length]!;
  switch (m.kind) {
    case 'replace':
      return path.length === 0 ? m.value : setAt(body, path, (_o, p, k) => ((p as Record<string | number, unknown>)[k] = m.value));
    case 'delete':
      return setAt(body, path, (_o, p, k) => (Array.isArray(p) ? p.splice(Number(k), 1) : delete (p as Record<string, unknown>)[k as string]));
    case 'extra': {
      const objects = all.filter((pa) => {
        let v: unknown = body;
        for (const k of pa) v = (v as Record<string | number, unknown>)[k];
        return v !== null && typeof v === 'object' && !Array.isArray(v);
      });
      if (objects.length === 0) return body;
      const target = objects[m.at % objects.length]!;
      if (target.length === 0) {
        const copy = structuredClone(body) as object;
        own(copy, m.key, m.value);
        return copy;
      }
      return setAt(body, target, (o) => own(o as object, m.key, m.value));
    }
    case 'bound':
      return setAt(body, path, (o, p, k) => {
        if (typeof o === 'number') (p as Record<string | number, unknown>)[k] = o + m.delta;
      });
    case 'deep':
      return path.length === 0 ? deep(m.depth, m.shape) : setAt(body, path, (_o, p, k) => ((p as Record<string | number, unknown>)[k] = deep(m.depth, m.shape)));
    case 'huge': {
      const arrays = all.filter((pa) => {
        let v: unknown = body;
        for (const k of pa) v = (v as Record<string | number, unknown>)[k];
        return Array.isArray(v);
      });
      const target = arrays.length > 0 ? arrays[m.at % arrays.length]! : path;
      // Written into the JSON text by toJson (copying the item 120,000 times as objects costs more).
      return setAt(body, target, (o, p, k) => {
        const first = Array.isArray(o) && o.length > 0 ? o[0] : 1;
        (p as Record<string | number, unknown>)[k] = `@@HUGE:${m.length}:${JSON.stringify(first)}@@`;
      });
    }
  }
}
