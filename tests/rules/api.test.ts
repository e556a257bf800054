import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Decision } from '../../src/domain/schemas.js';
import type { ActionSink, OutboundAction } from '../../src/domain/actions.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openServices } from '../../src/services.js';
import { MemoryStore } from '../../src/store/memory.js';
import { FIXED_NOW, order, PLACES, testApp, TEST_AUTH_CONFIG, withKey, network } from '../support/app.js';
import { graph, table } from './graph.js';

// The rules API and the bundled case, end to end on the embedded store (the Redis instances test
// is tests/rules/redis.test.ts).
const BUNDLED = JSON.parse(readFileSync(new URL('../../data/rules/dispatch.json', import.meta.url), 'utf8')) as { graph: ReturnType<typeof graph> };

/** A sink that records every hand-over, as the outbox would receive them. */
class RecordingSink implements ActionSink {
  readonly batches: OutboundAction[][] = [];
  enqueue(actions: readonly OutboundAction[]): Promise<void> {
    this.batches.push([...actions]);
    return Promise.resolve();
  }
}

let app: FastifyInstance;
let sink: RecordingSink;

beforeAll(async () => {
  const config = loadConfig({}, { solverThreads: 0, solveTimeoutMs: 10_000, solverWarmUpRounds: 0, ...TEST_AUTH_CONFIG });
  const net = network();
  sink = new RecordingSink();
  const services = await openServices(config, { net, store: new MemoryStore(net.network.stock, { clock: () => FIXED_NOW }), clock: () => FIXED_NOW, actions: sink });
  app = withKey(await buildApp({ config, services, logger: false }));
  await app.ready();
});
afterAll(async () => {
  await app?.close();
});

const allocate = (body: unknown) => app.inject({ method: 'POST', url: '/v1/allocate', payload: body as object });

describe('the bundled case', () => {
  it('a RECY- order with its old part lists the three actions, the waybill note is on the shipment, the sink gets them once per hand-over', async () => {
    const body = order({ lines: [{ sku: 'RECY-ALT-0001', qty: 1, linkedCoreReturn: 'CR-2026-0001' }, { sku: 'BRK-0001', qty: 2 }] });
    const r = await allocate(body);
    expect(r.statusCode).toBe(200);
    const d = r.json<Decision>();
    expect(d.status).toBe('allocated');
    expect(d.rules!.fired.filter((f) => f.applied).map((f) => [f.ruleset, f.version, f.action, f.sku])).toEqual([
      ['dispatch', 1, 'CORE_RETURN_TASK', 'RECY-ALT-0001'],
      ['dispatch', 1, 'FREEZE_RECEIVABLE', 'RECY-ALT-0001'],
      ['dispatch', 1, 'WAYBILL_NOTE', 'RECY-ALT-0001'],
    ]);
    const carrying = d.shipments.filter((s) => s.lines.some((l) => l.sku === 'RECY-ALT-0001'));
    expect(carrying.length).toBeGreaterThan(0);
    for (const s of carrying) expect(s.waybillNote).toBe('请收旧件');
    const handed = sink.batches.flat().filter((a) => a.orderId === body.orderId);
    expect(handed.map((a) => [a.code, a.discriminator, a.source.rule])).toEqual([
      ['CORE_RETURN_TASK', 'RECY-ALT-0001', 'RECY core-return task'],
      ['FREEZE_RECEIVABLE', 'RECY-ALT-0001', 'RECY freeze receivable'],
      ['WAYBILL_NOTE', 'RECY-ALT-0001', 'RECY waybill note'],
    ]);
    // An ERP retry answers the same decision and hands over the same actions (same idempotency keys).
    const again = await allocate(body);
    expect(again.json()).toEqual(d);
    const keys = (xs: OutboundAction[]) => xs.filter((a) => a.orderId === body.orderId).map((a) => `${a.orderId}|${a.code}|${a.discriminator}`);
    expect(keys(sink.batches.at(-1)!)).toEqual(keys(handed));
  });

  it('a RECY- line without a linked old part is held with its own reason, nothing reserved, counted in the KPIs', async () => {
    const before = await app.inject({ url: '/v1/kpi' });
    const body = order({ lines: [{ sku: 'RECY-ALT-0002', qty: 1 }] });
    const stock = async () => (await app.inject({ url: '/v1/stock?sku=RECY-ALT-0002' })).json<{ items: { reserved: number }[] }>().items.reduce((n, i) => n + i.reserved, 0);
    const reservedBefore = await stock();
    const d = (await allocate(body)).json<Decision>();
    expect(d).toMatchObject({ status: 'held', mode: 'intercepted', shipments: [], rules: { intercept: { action: 'HOLD_FOR_REVIEW', reason: 'RECY_NO_CORE_LINK', ruleset: 'dispatch' } } });
    expect(d.reasons[0]!.code).toBe('RULE_HELD_FOR_REVIEW');
    expect(await stock()).toBe(reservedBefore);
    expect((await app.inject({ url: `/v1/orders/${body.orderId as string}` })).json()).toMatchObject({ state: 'held' });
    const kpi = (await app.inject({ url: '/v1/kpi' })).json<{ heldByReason: Record<string, number> }>();
    expect(kpi.heldByReason.RECY_NO_CORE_LINK).toBe((before.json<{ heldByReason: Record<string, number> }>().heldByReason.RECY_NO_CORE_LINK ?? 0) + 1);
    // Only the hold goes out: the order does not ship, so its core-return actions do not apply.
    expect(sink.batches.flat().filter((a) => a.orderId === body.orderId).map((a) => a.code)).toEqual(['HOLD_FOR_REVIEW']);
  });

  it('a key account ships from its warehouse; Yunda is forbidden to Lishui', async () => {
    const plain = (await allocate(order({ customerId: 'C-PLAIN' }))).json<Decision>();
    expect(plain.shipments.map((s) => s.warehouseId)).toEqual(['SH01']);
    const ka = (await allocate(order({ customerId: 'KA-GEELY-01' }))).json<Decision>();
    expect(ka.shipments.map((s) => s.warehouseId)).toEqual(['HZ01']);
    expect(ka.reasons).toContainEqual(expect.objectContaining({ warehouseId: 'SH01', code: 'RULE_FORCED_WAREHOUSE' }));
    const lishui = (await allocate(order({ destination: { lon: 119.92, lat: 28.45 }, lines: [{ sku: 'BRK-0001', qty: 40 }] }))).json<Decision>();
    expect(lishui.shipments.length).toBeGreaterThan(0);
    expect(lishui.shipments.map((s) => s.courierId)).not.toContain('YUNDA');
    expect(lishui.rules!.fired).toContainEqual(expect.objectContaining({ action: 'FORBID_COURIER', params: { courierId: 'YUNDA' }, applied: true }));
  });
});

describe('/v1/rulesets', () => {
  it('refuses a table holding a function node with 422 naming the node', async () => {
    const g = graph(table('t', { c: 'order.customerId' }, [{ when: {}, rule: 'r', action: 'NO_SPLIT' }]));
    g.nodes.push({ id: 'fn', type: 'functionNode', name: 'sneaky code', position: { x: 0, y: 0 }, content: 'export const handler = async () => ({})' } as never);
    const r = await app.inject({ method: 'POST', url: '/v1/rulesets', payload: { rulesetId: 'sneaky', name: 'x', failMode: 'open', graph: g } });
    expect(r.statusCode).toBe(422);
    expect(r.json()).toMatchObject({ error: { code: 'DSP_RULESET_INVALID', details: [expect.objectContaining({ nodeId: 'fn', node: 'sneaky code' })] } });
    expect((await app.inject({ url: '/v1/rulesets/sneaky' })).statusCode).toBe(404);
  });

  it('a draft edited and activated changes decisions at once; a failing test blocks activation; rollback restores the old decisions; the audit says who', async () => {
    const ka = () => order({ customerId: 'KA-SAIC-01' });
    expect((await allocate(ka())).json<Decision>().shipments.map((s) => s.warehouseId)).toEqual(['SH01']);
    // Edit one cell: SAIC now ships from Suzhou.
    const edited = structuredClone(BUNDLED.graph) as { nodes: { id: string; content?: { rules: Record<string, string>[] } }[] };
    const row = edited.nodes.find((n) => n.id === 'key-accounts')!.content!.rules[0]!;
    row.p_warehouseId = '"SZ01"';
    const draft = await app.inject({ method: 'POST', url: '/v1/rulesets/dispatch/versions', payload: { name: 'SAIC from Suzhou', failMode: 'open', graph: edited, tests: [{ name: 'SAIC', order: ka(), expect: { actions: ['FORCE_WAREHOUSE', 'WAYBILL_NOTE'] } }] } });
    expect(draft.statusCode).toBe(201);
    const v = draft.json<{ version: number; state: string }>();
    expect(v.state).toBe('draft');
    // Its test is wrong (no waybill note for a brake-pad order): activation refuses, nothing changes.
    const refused = await app.inject({ method: 'POST', url: `/v1/rulesets/dispatch/versions/${v.version}/activate` });
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ error: { code: 'DSP_RULESET_TESTS_FAILED' } });
    expect((await allocate(ka())).json<Decision>().shipments.map((s) => s.warehouseId)).toEqual(['SH01']);
    // Fix the test in the draft, dry-run it (no side effect), activate.
    const fixed = await app.inject({ method: 'PUT', url: `/v1/rulesets/dispatch/versions/${v.version}`, payload: { name: 'SAIC from Suzhou', failMode: 'open', graph: edited, tests: [{ name: 'SAIC', order: ka(), expect: { actions: ['FORCE_WAREHOUSE'] } }] } });
    expect(fixed.statusCode).toBe(200);
    const dry = await app.inject({ method: 'POST', url: `/v1/rulesets/dispatch/versions/${v.version}/dry-run`, payload: { order: ka() } });
    expect(dry.json()).toMatchObject({ effects: { forceWarehouse: 'SZ01' } });
    expect((await allocate(ka())).json<Decision>().shipments.map((s) => s.warehouseId)).toEqual(['SH01']);
    const act = await app.inject({ method: 'POST', url: `/v1/rulesets/dispatch/versions/${v.version}/activate` });
    expect(act.statusCode).toBe(200);
    expect(act.json()).toMatchObject({ version: v.version, previous: 1 });
    const after = (await allocate(ka())).json<Decision>();
    expect(after.shipments.map((s) => s.warehouseId)).toEqual(['SZ01']);
    expect(after.rules!.versions).toEqual([{ ruleset: 'dispatch', version: v.version }]);
    // An activated version is no longer a draft.
    expect((await app.inject({ method: 'PUT', url: `/v1/rulesets/dispatch/versions/${v.version}`, payload: { name: 'x', failMode: 'open', graph: edited } })).statusCode).toBe(409);
    // Rollback: version 1 again, and its decisions.
    const rb = await app.inject({ method: 'POST', url: '/v1/rulesets/dispatch/rollback', payload: {} });
    expect(rb.json()).toMatchObject({ version: 1, previous: v.version });
    expect((await allocate(ka())).json<Decision>().shipments.map((s) => s.warehouseId)).toEqual(['SH01']);
    const audit = (await app.inject({ url: '/v1/rulesets/dispatch/audit' })).json<{ items: { by: string; what: string; version: number }[] }>().items;
    expect(audit.map((a) => [a.by, a.what, a.version])).toEqual([
      ['system', 'create', 1],
      ['system', 'activate', 1],
      ['test-all', 'draft', v.version],
      ['test-all', 'update', v.version],
      ['test-all', 'activate', v.version],
      ['test-all', 'rollback', 1],
    ]);
    const rs = (await app.inject({ url: '/v1/rulesets/dispatch' })).json<{ activeVersion: number; inForce: number; versions: { version: number; state: string }[] }>();
    expect(rs).toMatchObject({ activeVersion: 1, inForce: 1 });
    expect(rs.versions.map((x) => x.state)).toEqual(['active', 'inactive']);
  });

  it('a failOpen rule that fails at run time is named in the decision, and the order is decided without it', async () => {
    const g = graph(table('bad', { c: 'order.customerId' }, [{ when: { c: '"C-ODD"' }, rule: 'force a warehouse that is not there', action: 'FORCE_WAREHOUSE', params: { warehouseId: '"XX99"' } }], 'first', ['warehouseId']));
    expect((await app.inject({ method: 'POST', url: '/v1/rulesets', payload: { rulesetId: 'odd', name: 'odd', failMode: 'open', graph: g } })).statusCode).toBe(201);
    expect((await app.inject({ method: 'POST', url: '/v1/rulesets/odd/versions/1/activate' })).statusCode).toBe(200);
    const d = (await allocate(order({ customerId: 'C-ODD' }))).json<Decision>();
    expect(d.status).toBe('allocated');
    expect(d.rules!.failed).toEqual([{ ruleset: 'odd', version: 1, rule: 'force a warehouse that is not there', failMode: 'open', error: 'unknown warehouse "XX99"' }]);
  });
});

describe('rules off', () => {
  it('RULES_DIR=off: no ruleset, decisions carry no rules section', async () => {
    const { app: bare } = await testApp({ rulesDir: 'off' });
    try {
      expect((await bare.inject({ url: '/v1/rulesets' })).json()).toEqual({ items: [] });
      const d = (await bare.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: 'RECY-ALT-0001', qty: 1 }], destination: PLACES.shanghaiPeoplesSquare }) })).json<Decision>();
      expect(d.status).toBe('allocated');
      expect(d.rules).toBeUndefined();
    } finally {
      await bare.close();
    }
  });
});

describe('rules that read the plan', () => {
  it('run after the plan and before the reservation: a tag from the plan, and a hold that reserves nothing', async () => {
    const g = graph(
      table('plan-tags', { w: 'plan.warehouses', c: 'plan.costCny' }, [{ when: { w: 'contains($, "SH01")', c: '> 0' }, rule: 'shipped from Shanghai', action: 'TAG', params: { tag: '"from-" + plan.warehouses[0]' } }], 'collect', ['tag']),
      table('plan-hold', { c: 'order.customerId', s: 'plan.shipmentCount' }, [{ when: { c: '"C-PLANCHECK"', s: '>= 1' }, rule: 'check C-PLANCHECK plans', action: 'HOLD_FOR_REVIEW', params: { reason: '"PLAN_CHECK"' } }], 'first', ['reason']),
    );
    expect((await app.inject({ method: 'POST', url: '/v1/rulesets', payload: { rulesetId: 'plans', name: 'plans', failMode: 'open', graph: g } })).statusCode).toBe(201);
    expect((await app.inject({ method: 'POST', url: '/v1/rulesets/plans/versions/1/activate' })).statusCode).toBe(200);
    const tagged = (await allocate(order({ customerId: 'C-PLAIN-2' }))).json<Decision>();
    expect(tagged.shipments.map((s) => s.warehouseId)).toEqual(['SH01']);
    expect(tagged.rules).toMatchObject({ tags: ['from-SH01'] });
    const reserved = async () => (await app.inject({ url: '/v1/stock?warehouseId=SH01&sku=BRK-0001' })).json<{ items: { reserved: number }[] }>().items[0]!.reserved;
    const before = await reserved();
    const body = order({ customerId: 'C-PLANCHECK' });
    const held = (await allocate(body)).json<Decision>();
    expect(held).toMatchObject({ status: 'held', shipments: [], rules: { intercept: { reason: 'PLAN_CHECK', rule: 'check C-PLANCHECK plans' } } });
    expect(await reserved()).toBe(before);
    expect((await app.inject({ url: `/v1/orders/${body.orderId as string}` })).json()).toMatchObject({ state: 'held' });
  });

  it('a before action in a table that reads the plan is refused on save', async () => {
    const g = graph(table('late', { l: 'plan.late' }, [{ when: { l: 'true' }, rule: 'late: split', action: 'NO_SPLIT' }]));
    const r = await app.inject({ method: 'POST', url: '/v1/rulesets', payload: { rulesetId: 'late', name: 'late', failMode: 'open', graph: g } });
    expect(r.statusCode).toBe(422);
    expect(r.json()).toMatchObject({ error: { code: 'DSP_RULESET_INVALID', details: [expect.objectContaining({ nodeId: 'late', problem: expect.stringContaining('after the plan') })] } });
  });
});
