import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDGE_CODES } from '../../src/api/responses.js';
import { ERRORS, type ErrorCode } from '../../src/errors.js';
import type { MemoryStore } from '../../src/store/memory.js';
import { FIXED_NOW, network, testApp } from '../support/app.js';
import { Generators, mutate, mutation, nastyString, toJson, type Schema, type Vocabulary } from '../support/fuzz.js';

/**
 * Property-based fuzzing driven by the OpenAPI document the service serves: every operation, with
 * valid requests (generated from its schemas, biased to the bundled network's ids so they reach
 * the decision code), mutated ones (wrong types, bounds, unicode, deep nesting, prototype keys,
 * huge arrays) and raw ones (wrong content types, broken JSON, bad percent-encoding, over-long path
 * parameters, other methods), through app.inject. Every answer: no 5xx; a 4xx is the documented
 * error body with a registry code of that status, documented for the operation; a 2xx is
 * documented and valid against its schema (Ajv). Afterwards the stock invariant holds in every
 * cell and nothing polluted Object.prototype.
 *
 * FUZZ_CASES sets the number of cases (20,000 by default, the CI run; `npm run fuzz` runs 200,000);
 * FUZZ_SEED replays a run (the seed is printed).
 */
const CASES = Number(process.env.FUZZ_CASES ?? 20_000);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);

interface Param {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: Schema;
}
interface Op {
  id: string;
  method: string;
  path: string;
  params: Param[];
  body?: Schema;
  /** status -> description and the JSON schema of the answer (undefined for text answers). */
  responses: Map<string, { description: string; json?: Schema; type?: string }>;
}
interface Req {
  opId: string;
  kind: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

/** SKUs without a shelf life (their stock has no lots). */
let plainSkus: string[] = [];
let app: FastifyInstance;
let store: MemoryStore;
let ops: Op[];
let errorValidator: ValidateFunction;
const validators = new Map<string, ValidateFunction>();
const vocab: Vocabulary = { skus: [], warehouses: [], couriers: [], provinces: [], customers: [], wmsCodes: [], places: [], now: FIXED_NOW, pools: { orderId: [], lockId: [], id: [], keyId: [], entryId: [], rulesetId: ['dispatch'] }, ruleGraphs: [] };

beforeAll(async () => {
  // The production solve budget (20 ms; the tests' default is 10 s): a fuzzed order of many lines
  // and huge quantities answers with the best plan by then, as it would in production.
  ({ app, store } = await testApp({ solveTimeoutMs: 20 }));
  const doc = (await app.inject('/docs/json')).json<{
    paths: Record<string, Record<string, { operationId: string; parameters?: Param[]; requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }> }>>;
    components: { schemas: Record<string, Schema> };
  }>();
  const ajv = new Ajv({ strict: false, allErrors: false });
  ajv.addSchema({ $id: 'doc', components: doc.components });
  errorValidator = ajv.compile({ $ref: 'doc#/components/schemas/Error' });
  ops = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, o] of Object.entries(item)) {
      const responses = new Map<string, { description: string; json?: Schema; type?: string }>();
      for (const [status, r] of Object.entries(o.responses)) {
        const [type, media] = Object.entries(r.content ?? {})[0] ?? [];
        responses.set(status, { description: r.description, ...(type === 'application/json' ? { json: media!.schema } : {}), ...(type ? { type } : {}) });
        if (type === 'application/json') validators.set(`${o.operationId} ${status}`, ajv.compile({ ...(JSON.parse(JSON.stringify(media!.schema).replaceAll('"#/components', '"doc#/components')) as object) }));
      }
      ops.push({ id: o.operationId, method: method.toUpperCase(), path, params: o.parameters ?? [], ...(o.requestBody ? { body: o.requestBody.content['application/json']!.schema } : {}), responses });
    }
  }
  const net = network();
  vocab.skus = net.network.skus.map((s) => s.sku);
  plainSkus = net.network.skus.filter((s) => s.shelfLifeDays === null).map((s) => s.sku).slice(0, 40);
  vocab.warehouses = net.warehouses.map((w) => w.id);
  vocab.couriers = net.couriers.map((c) => c.id);
  vocab.provinces = [...new Set(net.regionsGeoJson.features.map((f) => f.properties.provinceCode))];
  vocab.customers = ['C-0042', 'C-KEY-01', ...net.network.stores.slice(0, 5).map((s) => s.id)];
  vocab.places = net.network.stores.map((s) => ({ lon: s.lon, lat: s.lat }));
  // The bundled ruleset's graph: drafts that carry it are accepted (the others are refused with 422).
  vocab.ruleGraphs = [(JSON.parse(readFileSync(new URL('../../data/rules/dispatch.json', import.meta.url), 'utf8')) as { graph: unknown }).graph];
  vocab.wmsCodes = Object.keys((JSON.parse(readFileSync(new URL('../../data/wms/status-map.json', import.meta.url), 'utf8')) as { codes: object }).codes);
  // One small replay runs to the end first, so its report (GET .../report 200) can be asked for.
  const tiny = await app.inject({
    method: 'POST',
    url: '/v1/scenarios',
    payload: { name: 'fuzz-tiny', policies: ['nearest'], events: [{ at: '2026-11-11T10:00:00+08:00', type: 'order', order: { orderId: 'FZ-TINY-1', customerId: 'C-0042', promisedBy: '2026-11-12T18:00:00+08:00', destination: { lon: 121.47, lat: 31.23 }, lines: [{ sku: 'BRK-0001', qty: 1 }] } }] },
  });
  expect(tiny.statusCode).toBe(202);
  vocab.pools.id.push(tiny.json<{ id: string }>().id);
  await app.dspReplays.idle();
  // Dead outbox entries (the fuzzed service has no webhooks, so none arise by themselves), so that
  // reading one and replaying it (200, then 409 once pending) are reached too.
  const t = FIXED_NOW;
  const action = (i: number) => JSON.stringify({ orderId: `FZ-OBX-${i}`, code: 'TAG', discriminator: '', params: {}, source: { ruleset: 'fuzz', version: 1, rule: 'r' }, decidedAtMs: t });
  const entries = Array.from({ length: 20 }, (_, i) => ({ id: `OBX-fuzz${i}`, target: 'fuzz', orderId: `FZ-OBX-${i}`, code: 'TAG', discriminator: '', action: action(i), state: 'pending' as const, attempts: 0, replays: 0, createdAt: t, nextAttemptAt: 0, lease: null, leaseUntil: null, lastAttemptAt: null, lastError: null, deliveredAt: null }));
  await store.outboxAdd(entries);
  for (const e of await store.outboxClaim(entries.length, 60_000)) await store.outboxSettle(e.id, e.lease!, { state: 'dead', nextAttemptAt: t, error: 'fuzz' });
  vocab.pools.entryId.push(...entries.map((e) => e.id));
}, 120_000);

afterAll(async () => {
  await app?.close();
});

/** Percent-encodes a path parameter; a lone surrogate (which no URL can carry) becomes U+FFFD. */
const enc = (v: unknown) => encodeURIComponent(String(v).replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));

/** The requests of one operation: valid, mutated and raw. */
function requests(gen: Generators, op: Op): fc.Arbitrary<Req> {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const others = op.params.filter((p) => p.in !== 'path');
  const paramValues = fc.record(
    Object.fromEntries([...pathParams, ...others].map((p) => [`${p.in}:${p.name}`, gen.valid(p.schema, p.name)])),
    { requiredKeys: [...pathParams, ...others].filter((p) => p.in === 'path' || p.required).map((p) => `${p.in}:${p.name}`) },
  ) as fc.Arbitrary<Record<string, unknown>>;
  const body = op.body ? gen.valid(op.body) : fc.constant(undefined);
  const build = (kind: string, values: Record<string, unknown>, bodyValue: unknown, raw: Partial<Req> = {}): Req => {
    let url = op.path;
    const query = new URLSearchParams();
    const headers: Record<string, string> = {};
    for (const p of op.params) {
      const v = values[`${p.in}:${p.name}`];
      if (v === undefined) continue;
      if (p.in === 'path') url = url.replace(`{${p.name}}`, enc(v));
      else if (p.in === 'query') query.set(p.name, String(v));
      else headers[p.name] = String(v);
    }
    if (query.size > 0) url += `?${query}`;
    const json = bodyValue === undefined ? undefined : toJson(bodyValue);
    return { opId: op.id, kind, method: op.method, url, headers: { ...(json !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, ...(json !== undefined ? { payload: json } : {}), ...raw };
  };
  const generated = fc.tuple(paramValues, body).map(([v, b]) => build('valid', v, b));
  // A stock count is valid only if every item fits its SKU's lot rules (a lot named exactly for
  // shelf-life SKUs) and stays above what is held: generated items rarely all do (a CI run of 20,000
  // cases had 2 successes in 548), so counts of SKUs without shelf life are drawn beside them.
  const valid =
    op.id === 'setStock' && plainSkus.length > 0
      ? fc.oneof(
          generated,
          fc
            .array(fc.record({ warehouseId: fc.constantFrom(...vocab.warehouses), sku: fc.constantFrom(...plainSkus), onHand: fc.integer({ min: 1_000, max: 100_000 }) }), { minLength: 1, maxLength: 4 })
            .map((items) => build('valid', {}, { items })),
        )
      : generated;
  const mutatedBody = fc.tuple(paramValues, body, mutation).map(([v, b, m]) => build(`mutated:${m.kind}`, v, op.body ? mutate(b, m) : b));
  const mutatedParam = fc.tuple(paramValues, body, fc.nat(), nastyString).map(([v, b, i, s]) => {
    const keys = Object.keys(v);
    return keys.length === 0 ? build('valid', v, b) : build('mutated:param', { ...v, [keys[i % keys.length]!]: s }, b);
  });
  const raw = fc.tuple(paramValues, body, fc.nat()).chain(([v, b, i]) => {
    const base = build('raw', v, b);
    const pathIdx = pathParams.length > 0 ? i % pathParams.length : -1;
    const withPathParam = (text: string) => {
      let url = op.path;
      pathParams.forEach((p, k) => (url = url.replace(`{${p.name}}`, k === pathIdx ? text : enc(v[`path:${p.name}`]))));
      return url;
    };
    const choices: fc.Arbitrary<Req>[] = [
      fc.constantFrom('text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/jsonx', 'image/png').map((ct) => ({
        ...base,
        kind: 'raw:content-type',
        headers: { ...base.headers, 'content-type': ct },
        payload: base.payload ?? 'a=1',
      })),
      fc.constantFrom('{"a":', '{', 'nul', '\u0000', '\ufeff{}', '{"a":1}{"b":2}', '[]', '1', 'null', '""', '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '', ' ', '{"a":1,}').map((p) => ({
        ...base,
        kind: 'raw:json',
        headers: { ...base.headers, 'content-type': 'application/json' },
        payload: p,
      })),
      fc.constantFrom('DELETE', 'PUT', 'PATCH', 'POST', 'GET', 'OPTIONS', 'HEAD', 'PROPFIND').map((m) => ({ ...base, kind: 'raw:method', method: m })),
      fc.constantFrom('?x=%', '?sku=%zz', '?warehouseId=SH01&warehouseId=SZ01', '?__proto__=1', `?q=${'x'.repeat(5_000)}`, '?sku[]=a', '?%E0%A4%A=1').map((q) => ({ ...base, kind: 'raw:query', url: base.url.split('?')[0] + q })),
      fc.constantFrom('x-request-id', 'idempotency-key', 'accept', 'content-length-ish').chain((h) => nastyString.map((s) => ({ ...base, kind: 'raw:header', headers: { ...base.headers, [h]: s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?') } }))),
      fc.constantFrom('/', '//', '/extra').map((suffix) => ({ ...base, kind: 'raw:path', url: base.url.split('?')[0] + suffix })),
    ];
    if (pathIdx >= 0) {
      choices.push(
        fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%AF', '%00', '%2F', '%ff', '%F0%9F%98%80', 'x'.repeat(100), 'x'.repeat(101), 'x'.repeat(10_000), '%E8%AE%A2'.repeat(40)).map((t) => ({ ...base, kind: 'raw:path-param', url: withPathParam(t) })),
      );
    }
    if (!op.body) choices.push(fc.constant({ ...base, kind: 'raw:unexpected-body', headers: { ...base.headers, 'content-type': 'application/json' }, payload: '{"unexpected":true}' }));
    return fc.oneof(...choices);
  });
  // Starting a replay spawns a worker thread: fewer valid ones.
  const validWeight = op.id === 'startScenario' ? 1 : 8;
  return fc.oneof({ weight: validWeight, arbitrary: valid }, { weight: op.body ? 6 : 1, arbitrary: mutatedBody }, { weight: 2, arbitrary: mutatedParam }, { weight: 3, arbitrary: raw });
}

const stats = new Map<string, Map<number, number>>();
/** Milliseconds and cases per kind of request (where the run's time goes). */
const timeByKind = new Map<string, { ms: number; n: number }>();
let fiveXx = 0;

async function check(req: Req): Promise<void> {
  const op = ops.find((o) => o.id === req.opId)!;
  const t0 = performance.now();
  const r = await app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, ...(req.payload !== undefined ? { payload: req.payload } : {}) });
  const kindKey = req.kind === 'valid' ? `valid ${op.id}` : req.kind;
  const t = timeByKind.get(kindKey) ?? { ms: 0, n: 0 };
  t.ms += performance.now() - t0;
  t.n++;
  timeByKind.set(kindKey, t);
  const what = `${req.kind} ${req.method} ${req.url.slice(0, 200)} ${req.payload?.slice(0, 300) ?? ''} -> ${r.statusCode} ${r.body.slice(0, 400)}`;
  // A changed method or path may name another route: only the operation's own answers are held to its documentation.
  const sameOp = req.kind !== 'raw:path' && (req.method === op.method || (req.method === 'HEAD' && op.method === 'GET'));
  const key = sameOp ? op.id : `${op.id} (${req.kind === 'raw:path' ? 'other path' : req.method})`;
  const byStatus = stats.get(key) ?? new Map<number, number>();
  byStatus.set(r.statusCode, (byStatus.get(r.statusCode) ?? 0) + 1);
  stats.set(key, byStatus);
  if (r.statusCode >= 500) fiveXx++;
  expect(r.statusCode, what).toBeLessThan(500);
  expect(r.headers['x-request-id'], what).toBeTruthy();
  if (req.method === 'HEAD') return;
  if (r.statusCode >= 400) {
    const body = r.json<{ error: { code: ErrorCode } }>();
    expect(errorValidator(body), `${what}\n${JSON.stringify(errorValidator.errors)}`).toBe(true);
    expect(ERRORS[body.error.code].status, what).toBe(r.statusCode);
    if (r.statusCode === 405) expect(r.headers.allow, what).toBeTruthy();
    if (sameOp && !['DSP_NOT_FOUND', 'DSP_METHOD_NOT_ALLOWED'].includes(body.error.code)) {
      const documented = op.responses.get(String(r.statusCode));
      const ok = (EDGE_CODES as readonly string[]).includes(body.error.code) || (documented !== undefined && documented.description.includes(`\`${body.error.code}\``));
      expect(ok, `${body.error.code} not documented for ${op.id} ${r.statusCode}: ${what}`).toBe(true);
    }
    return;
  }
  if (!sameOp) return;
  const documented = op.responses.get(String(r.statusCode));
  expect(documented, `undocumented ${r.statusCode}: ${what}`).toBeDefined();
  if (documented!.json) {
    const validate = validators.get(`${op.id} ${r.statusCode}`)!;
    const body = r.json<Record<string, unknown>>();
    expect(validate(body), `${what}\n${JSON.stringify(validate.errors)}`).toBe(true);
    // Ids the later cases can use.
    if (op.id === 'allocateOrder') vocab.pools.orderId.push(body.orderId as string);
    if (op.id === 'createLock') vocab.pools.lockId.push(body.lockId as string);
    // Keys the fuzz made itself (never the test's own key, which every case needs).
    if (op.id === 'createApiKey' || op.id === 'rotateApiKey') vocab.pools.keyId.push(body.id as string);
    if (op.id === 'createRuleset') vocab.pools.rulesetId.push(body.ruleset as string);
    if (op.id === 'startScenario') {
      vocab.pools.id.push(body.id as string);
      // A replay decides thousands of orders in a worker thread: cancel it at once, through the API,
      // checked like every case (so the cancel's own success path is covered too).
      await check({ opId: 'cancelScenario', kind: 'valid', method: 'DELETE', url: `/v1/scenarios/${encodeURIComponent(body.id as string)}`, headers: {} });
    }
  } else {
    expect(r.headers['content-type'], what).toContain(documented!.type!.split(';')[0]);
  }
}

describe('fuzzing the API from its OpenAPI document', () => {
  it(`${CASES} cases: no 5xx, every error a documented DSP_ body, every 2xx valid against its schema, stock invariant intact`, async () => {
    const gen = new Generators(
      Object.fromEntries(Object.entries((await app.inject('/docs/json')).json<{ components: { schemas: Record<string, Schema> } }>().components.schemas)),
      vocab,
    );
    expect(ops.length).toBeGreaterThanOrEqual(23);
    // Operations whose every answer is large or reads everything stored (/metrics, the network, the
    // KPIs over all orders, the replay list, a replay's worker thread) are drawn less often.
    const heavy = ['getMetrics', 'getNetwork', 'getKpi', 'listScenarios', 'startScenario'];
    const arb = fc.oneof(...ops.map((op) => ({ weight: heavy.includes(op.id) ? 1 : 4, arbitrary: requests(gen, op) })));
    const started = performance.now();
    console.log(`fuzz: ${CASES} cases, seed ${SEED} (FUZZ_SEED=${SEED} FUZZ_CASES=${CASES} to replay)`);
    await fc.assert(
      fc.asyncProperty(arb, async (req) => check(req)),
      { numRuns: CASES, seed: SEED, endOnFailure: true },
    );
    const seconds = (performance.now() - started) / 1000;

    // Nothing reached Object.prototype ({"__proto__":...} and {"constructor":{"prototype":...}} bodies).
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // The stock invariant in every cell, through the API and in the store.
    const stock = await app.inject('/v1/stock');
    expect(stock.statusCode).toBe(200);
    const items = stock.json<{ items: { onHand: number; free: number; reserved: number; locked: number }[] }>().items;
    expect(items.length).toBeGreaterThan(2_000);
    for (const s of [...items, ...(await store.stock())]) {
      expect(s.onHand, JSON.stringify(s)).toBe(s.free + s.reserved + s.locked);
      expect(Math.min(s.free, s.reserved, s.locked), JSON.stringify(s)).toBeGreaterThanOrEqual(0);
    }

    const rows = [...stats].sort((a, b) => a[0].localeCompare(b[0])).map(([op, m]) => `${op.padEnd(34)} ${[...m].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ')}`);
    console.log(`fuzz: ${CASES} cases in ${seconds.toFixed(1)} s (${Math.round(CASES / seconds)}/s), ${fiveXx} answers 5xx; by operation and status:\n${rows.join('\n')}`);
    const times = [...timeByKind].sort((a, b) => b[1].ms - a[1].ms).map(([k, t]) => `${k.padEnd(34)} ${t.n} cases, ${(t.ms / 1000).toFixed(1)} s in inject`);
    console.log(`fuzz: where the time goes:\n${times.join('\n')}`);
    expect(fiveXx).toBe(0);
    // Valid requests reach every operation's success path (else the generators only test validation).
    if (CASES >= 5_000) {
      for (const op of ops) {
        const twoXx = [...(stats.get(op.id) ?? new Map<number, number>())].filter(([s]) => s < 300).reduce((n, [, c]) => n + c, 0);
        expect(twoXx, `${op.id} never answered 2xx`).toBeGreaterThan(0);
      }
    }
  }, Math.max(120_000, CASES * 20));
});
