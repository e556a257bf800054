import { describe, expect, it } from 'vitest';
import { DspError } from '../../src/errors.js';
import { RuleEngine } from '../../src/rules/engine.js';
import { resolve } from '../../src/rules/resolve.js';
import { compileGraph } from '../../src/rules/validate.js';
import type { LineFacts, OrderFacts } from '../../src/rules/engine.js';
import { graph, table } from './graph.js';

const ORDER: OrderFacts = {
  orderId: 'O-1', customerId: 'KA-1', customerTier: 'KEY', regionCode: '310000', regionName: 'Shanghai', provinceCode: '310000',
  amountCny: 120, lineCount: 1, units: 2, skus: ['RECY-ALT-0001'], placedAt: '2026-11-11T10:00:00+08:00', promisedBy: '2026-11-12T18:00:00+08:00',
  promiseHours: 32, allowSplit: true, attributes: { channel: 'web' },
};
const LINE: LineFacts = { sku: 'RECY-ALT-0001', qty: 2, priceCny: 60, amountCny: 120, category: 'alternator', linkedCoreReturn: null };
const KNOWN = { warehouses: new Set(['SH01', 'SZ01', 'HZ01']), couriers: new Set(['STO', 'SF']) };

/** The DspError a compile throws (or fails the test). */
function refusal(g: unknown): DspError {
  try {
    compileGraph(g);
  } catch (err) {
    expect(err).toBeInstanceOf(DspError);
    return err as DspError;
  }
  throw new Error('the graph was accepted');
}

describe('validation on save: tables only, every problem names its node', () => {
  const ok = table('t1', { sku: 'line.sku' }, [{ when: { sku: 'startsWith($, "RECY-")' }, rule: 'recy', action: 'CORE_RETURN_TASK' }]);

  it('accepts a table graph and marks a table reading line.* as per line', () => {
    const c = compileGraph(graph(ok));
    expect(c.tables).toEqual([{ nodeId: 't1', name: 't1', hitPolicy: 'collect', perLine: true, readsPlan: false }]);
    expect(c.rules.get('recy')).toMatchObject({ action: 'CORE_RETURN_TASK', specificity: 1 });
  });

  it('refuses a function node (it runs code), naming it', () => {
    const g = graph(ok);
    g.nodes.push({ id: 'fn1', type: 'functionNode', name: 'my code', position: { x: 0, y: 0 }, content: 'export const handler = async (input) => input;' } as never);
    const err = refusal(g);
    expect(err.code).toBe('DSP_RULESET_INVALID');
    expect(err.status).toBe(422);
    expect(err.details).toContainEqual(expect.objectContaining({ nodeId: 'fn1', node: 'my code', problem: expect.stringContaining('runs code') }));
  });

  it('refuses custom, expression and unknown nodes', () => {
    for (const type of ['customNode', 'expressionNode', 'switchNode', 'decisionNode', 'mysteryNode']) {
      const g = graph(ok);
      g.nodes.push({ id: 'x1', type, name: 'x', position: { x: 0, y: 0 } } as never);
      expect(refusal(g).details, type).toContainEqual(expect.objectContaining({ nodeId: 'x1' }));
    }
  });

  it('refuses a malformed cell, an unknown action and an unknown input field, naming the table', () => {
    const bad = (t: ReturnType<typeof table>, needle: string) => {
      const err = refusal(graph(t));
      expect(err.details).toContainEqual(expect.objectContaining({ nodeId: t.id, problem: expect.stringContaining(needle) }));
    };
    bad(table('m', { sku: 'line.sku' }, [{ when: { sku: 'startsWith($, ' }, rule: 'r', action: 'TAG', params: { tag: '"x"' } }], 'first', ['tag']), 'malformed');
    bad(table('a', { sku: 'line.sku' }, [{ when: { sku: '"X"' }, rule: 'r', action: 'LAUNCH_ROCKET' }]), 'unknown action');
    bad(table('f', { sku: 'line.skew' }, [{ when: { sku: '"X"' }, rule: 'r', action: 'NO_SPLIT' }]), 'unknown field');
    bad(table('p', { c: 'order.customerId' }, [{ when: { c: '"X"' }, rule: 'r', action: 'FORCE_WAREHOUSE' }]), 'needs params.warehouseId');
    bad(table('q', { w: 'plan.warehouses' }, [{ when: { w: 'contains($, "SH01")' }, rule: 'r', action: 'FORBID_WAREHOUSE', params: { warehouseId: '"SH01"' } }], 'first', ['warehouseId']), 'known only after the plan');
  });

  it('refuses what is not a graph, a table not wired to the output, and a hit policy other than first or collect', () => {
    expect(refusal({ nodes: 'x' }).code).toBe('DSP_RULESET_INVALID');
    const g = graph(ok);
    g.edges = g.edges.filter((e) => e.targetId !== 'out');
    expect(refusal(g).details).toContainEqual(expect.objectContaining({ nodeId: 't1', problem: expect.stringContaining('output node') }));
    const u = table('u', { sku: 'line.sku' }, [{ when: {}, rule: 'r', action: 'NO_SPLIT' }]);
    (u.content as { hitPolicy: string }).hitPolicy = 'unique';
    expect(refusal(graph(u)).details).toContainEqual(expect.objectContaining({ nodeId: 'u', problem: expect.stringContaining('hitPolicy') }));
  });
});

describe('evaluation and precedence', () => {
  const engine = new RuleEngine();
  const load = (...tables: ReturnType<typeof table>[]) => {
    engine.load([{ id: 'rs', name: 'rs', version: 1, failMode: 'open', graph: graph(...tables) }]);
    return engine.snapshot();
  };

  it('a RECY- line fires the three actions, per line, with its SKU', async () => {
    const snap = load(
      table('recy', { sku: 'line.sku' }, [
        { when: { sku: 'startsWith($, "RECY-")' }, rule: 'task', action: 'CORE_RETURN_TASK' },
        { when: { sku: 'startsWith($, "RECY-")' }, rule: 'freeze', action: 'FREEZE_RECEIVABLE' },
        { when: { sku: 'startsWith($, "RECY-")' }, rule: 'note', action: 'WAYBILL_NOTE', params: { note: '"请收旧件"' } },
      ], 'collect', ['note']),
    );
    const ev = await snap.evaluate({ order: ORDER, lines: [LINE, { ...LINE, sku: 'BRK-0001' }] }, 'pre');
    expect(ev.failed).toEqual([]);
    expect(ev.fired.map((f) => [f.action, f.sku, f.params])).toEqual([
      ['CORE_RETURN_TASK', 'RECY-ALT-0001', { sku: 'RECY-ALT-0001' }],
      ['FREEZE_RECEIVABLE', 'RECY-ALT-0001', { sku: 'RECY-ALT-0001' }],
      ['WAYBILL_NOTE', 'RECY-ALT-0001', { note: '请收旧件' }],
    ]);
  });

  it('forbid beats force; of two forces the more specific rule wins, whatever the row order', async () => {
    const snap = load(
      table('wh', { c: 'order.customerId', t: 'order.customerTier' }, [
        { when: { t: '"KEY"' }, rule: 'key tier to SZ01', action: 'FORCE_WAREHOUSE', params: { warehouseId: '"SZ01"' } },
        { when: { c: '"KA-1"', t: '"KEY"' }, rule: 'KA-1 to HZ01', action: 'FORCE_WAREHOUSE', params: { warehouseId: '"HZ01"' } },
      ], 'collect', ['warehouseId']),
    );
    const ev = await snap.evaluate({ order: ORDER, lines: [LINE] }, 'pre');
    const fx = resolve(ev, snap, KNOWN);
    expect(fx.forceWarehouse).toBe('HZ01');
    expect(ev.fired.find((f) => f.rule === 'key tier to SZ01')).toMatchObject({ applied: false, note: expect.stringContaining('more specific') });

    const snap2 = load(
      table('wh', { c: 'order.customerId' }, [{ when: { c: '"KA-1"' }, rule: 'force SH01', action: 'FORCE_WAREHOUSE', params: { warehouseId: '"SH01"' } }], 'first', ['warehouseId']),
      table('ban', { r: 'order.regionCode' }, [{ when: {}, rule: 'no SH01', action: 'FORBID_WAREHOUSE', params: { warehouseId: '"SH01"' } }], 'first', ['warehouseId']),
    );
    const ev2 = await snap2.evaluate({ order: ORDER, lines: [LINE] }, 'pre');
    const fx2 = resolve(ev2, snap2, KNOWN);
    expect(fx2.forbidWarehouses.has('SH01')).toBe(true);
    expect(fx2.forceWarehouse).toBeNull();
    expect(ev2.fired.find((f) => f.rule === 'force SH01')).toMatchObject({ applied: false, note: expect.stringContaining('forbid beats force') });
  });

  it('a rule naming an unknown warehouse fails at run time, named in the evaluation, never silently', async () => {
    const snap = load(table('wh', { c: 'order.customerId' }, [{ when: {}, rule: 'to nowhere', action: 'FORCE_WAREHOUSE', params: { warehouseId: 'order.customerId' } }], 'first', ['warehouseId']));
    const ev = await snap.evaluate({ order: ORDER, lines: [LINE] }, 'pre');
    const fx = resolve(ev, snap, KNOWN);
    expect(fx.forceWarehouse).toBeNull();
    expect(ev.failed).toEqual([{ ruleset: 'rs', version: 1, rule: 'to nowhere', failMode: 'open', error: 'unknown warehouse "KA-1"' }]);
    expect(fx.intercept).toBeNull();
  });

  it('a failClosed ruleset whose rule fails holds the order (RULESET_FAILED)', async () => {
    engine.load([{ id: 'strict', name: 'strict', version: 4, failMode: 'closed', graph: graph(table('wh', { c: 'order.customerId' }, [{ when: {}, rule: 'to nowhere', action: 'FORCE_WAREHOUSE', params: { warehouseId: 'order.customerId' } }], 'first', ['warehouseId'])) }]);
    const snap = engine.snapshot();
    const ev = await snap.evaluate({ order: ORDER, lines: [LINE] }, 'pre');
    expect(resolve(ev, snap, KNOWN).intercept).toEqual({ action: 'HOLD_FOR_REVIEW', reason: 'RULESET_FAILED', ruleset: 'strict', version: 4, rule: 'to nowhere' });
  });

  it('REFUSE beats HOLD_FOR_REVIEW', async () => {
    const snap = load(
      table('x', { a: 'order.amountCny' }, [
        { when: { a: '> 100' }, rule: 'hold big', action: 'HOLD_FOR_REVIEW', params: { reason: '"BIG"' } },
        { when: { a: '> 100' }, rule: 'refuse big', action: 'REFUSE', params: { reason: '"TOO_BIG"' } },
      ], 'collect', ['reason']),
    );
    const ev = await snap.evaluate({ order: ORDER, lines: [LINE] }, 'pre');
    expect(resolve(ev, snap, KNOWN).intercept).toMatchObject({ action: 'REFUSE', reason: 'TOO_BIG', rule: 'refuse big' });
  });
});

describe('the in-thread table walk gives what ZEN\'s decision runner gives', () => {
  it('on the bundled ruleset and a mixed table, for varied orders', async () => {
    const { readFileSync } = await import('node:fs');
    const bundled = JSON.parse(readFileSync(new URL('../../data/rules/dispatch.json', import.meta.url), 'utf8')) as { graph: ReturnType<typeof graph> };
    const mixed = graph(
      table('amounts', { a: 'order.amountCny', t: 'order.customerTier', ch: 'order.attributes.channel' }, [
        { when: { a: '> 100', t: '"KEY", "A"' }, rule: 'big key', action: 'TAG', params: { tag: '"big-" + order.customerTier' } },
        { when: { a: '[50..100]' }, rule: 'middle', action: 'TAG', params: { tag: '"mid"' } },
        { when: { ch: '"web"' }, rule: 'web', action: 'SET_ATTRIBUTE', params: { name: '"src"', value: 'order.attributes.channel' } },
        { when: {}, rule: 'always', action: 'NO_SPLIT' },
      ], 'collect', ['tag', 'name', 'value']),
      table('lines', { s: 'line.sku', q: 'line.qty', l: 'line.linkedCoreReturn' }, [
        { when: { s: 'startsWith($, "BRK")', q: '>= 2' }, rule: 'brk pair', action: 'WAYBILL_NOTE', params: { note: '"pair " + line.sku' } },
        { when: { l: 'null' }, rule: 'unlinked', action: 'TAG', params: { tag: '"unlinked"' } },
      ], 'first', ['note', 'tag']),
    );
    const engine = new RuleEngine();
    engine.load([
      { id: 'a-bundled', name: 'b', version: 1, failMode: 'open', graph: bundled.graph },
      { id: 'b-mixed', name: 'm', version: 1, failMode: 'open', graph: mixed },
    ]);
    const snap = engine.snapshot();
    const skus = ['BRK-0001', 'RECY-ALT-0001', 'FLO-0002', 'RECY-BAT-0001'];
    let compared = 0;
    for (let i = 0; i < 60; i++) {
      const lines: LineFacts[] = Array.from({ length: 1 + (i % 3) }, (_, k) => ({ ...LINE, sku: skus[(i + k) % skus.length]!, qty: 1 + ((i * 7 + k) % 4), linkedCoreReturn: (i + k) % 3 === 0 ? null : `CR-${i}` }));
      const order: OrderFacts = {
        ...ORDER,
        customerId: ['KA-SAIC-01', 'KA-GEELY-01', 'C-1'][i % 3]!,
        customerTier: [null, 'KEY', 'A', 'B'][i % 4]!,
        regionCode: i % 5 === 0 ? '331100' : '310000',
        amountCny: (i * 13) % 200,
        attributes: i % 2 === 0 ? { channel: 'web' } : {},
        skus: lines.map((l) => l.sku),
      };
      const strip = (ev: Awaited<ReturnType<typeof snap.evaluate>>) => ({ fired: ev.fired.map((f) => [f.ruleset, f.rule, f.action, f.sku, f.params]), failed: ev.failed.length });
      const fast = strip(snap.evaluateSync({ order, lines }, 'pre'));
      expect(fast, `order ${i}`).toEqual(strip(await snap.evaluateByZen({ order, lines }, 'pre')));
      compared += fast.fired.length;
    }
    // The comparison is not vacuous: rules of both rulesets fired.
    expect(compared).toBeGreaterThan(100);
  });
});

describe('docs/rules.md', () => {
  it('lists every action of the registry with its hook, and nothing else', async () => {
    const { readFileSync } = await import('node:fs');
    const { ACTIONS } = await import('../../src/rules/actions.js');
    const doc = readFileSync(new URL('../../docs/rules.md', import.meta.url), 'utf8');
    const listed = [...doc.matchAll(/^\| `([A-Z_]+)` \| (before|intercept|after) \|/gm)].map((m) => [m[1], m[2]]);
    expect(listed.sort()).toEqual(Object.entries(ACTIONS).map(([code, a]) => [code, a.hook]).sort());
  });
});

describe('hostile graphs', () => {
  it('a graph nested thousands of levels deep is refused with 422, not a stack overflow', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const g = graph(table('t', { c: 'order.customerId' }, [{ when: {}, rule: 'r', action: 'NO_SPLIT' }]));
    (g.edges[0] as { sourceId: unknown }).sourceId = deep;
    expect(refusal(g).details).toEqual([expect.objectContaining({ problem: expect.stringContaining('nested deeper') })]);
  });
});

describe('reloads prepare only the rulesets whose active version changed', () => {
  const recy = table('t1', { sku: 'line.sku' }, [{ when: { sku: 'startsWith($, "RECY-")' }, rule: 'recy', action: 'CORE_RETURN_TASK' }]);
  const other = table('t1', { sku: 'line.sku' }, [{ when: { sku: 'startsWith($, "OIL-")' }, rule: 'oil', action: 'CORE_RETURN_TASK' }]);
  const version = (id: string, v: number, g: unknown) => ({ id, name: id, version: v, failMode: 'open' as const, graph: g as never });

  it('keeps a prepared version across loads, and prepares again a changed one or one that left and came back', () => {
    const e = new RuleEngine();
    const a1 = e.prepareActive(version('a', 1, graph(recy)));
    e.load([version('a', 1, graph(recy)), version('b', 1, graph(recy))]);
    // The same version read again from the store (a fresh object): the prepared one is kept.
    expect(e.prepareActive(version('a', 1, graph(recy)))).toBe(a1);
    // Another graph under the same number (a store emptied and filled again) is prepared anew, and runs.
    const a1other = e.prepareActive(version('a', 1, graph(other)));
    expect(a1other).not.toBe(a1);
    expect(JSON.stringify(a1other.compiled.graph)).toContain('OIL-');
    // A ruleset no longer active is forgotten.
    e.load([version('b', 1, graph(recy))]);
    expect(e.prepareActive(version('a', 1, graph(other)))).not.toBe(a1other);
    expect(e.versions).toEqual({ b: 1 });
  });
});
