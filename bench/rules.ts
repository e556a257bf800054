/**
 * What the business rules cost (issue 20: "the bundled ruleset adds ≤ 50 µs to a decision at the
 * median, and POST /v1/allocate throughput stays within 10 % of before"), three ways, each against
 * its baseline in the same run:
 *
 *   hook     the work the allocator adds per order with the bundled ruleset active: the order's
 *            facts, the ZEN evaluation (one call: every table that reads no plan) and precedence,
 *            timed around exactly that, over the Double-11 stream; baseline: the same loop doing
 *            nothing (the timer's own cost)
 *   decide   the whole decision (Allocator.allocate, embedded store, in-thread solver), rules on
 *            and off on two services of their own, the same orders alternately (which goes first
 *            alternates too); median of each, and the median of the per-order differences
 *   http     with --http: POST /v1/allocate at saturation, rules on (the bundled ruleset) and off
 *            (RULES_DIR=off), alternating rounds (bench/http-load.ts; needs no build)
 *
 * RECY- lines of the stream carry a linked old part, so that their orders are decided (and fire
 * the three core-return actions) instead of being held, which would make "on" cheaper.
 *
 *   npx tsx bench/rules.ts [--count 1500] [--http] [--seconds 10] [--connections 50] [--rounds 4]
 */
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { generateOrders } from '../src/demo/orders.js';
import type { AllocateRequest } from '../src/domain/schemas.js';
import { loadNetworkContext } from '../src/network/context.js';
import { defaultDataDir } from '../src/network/load.js';
import { RuleEngine } from '../src/rules/engine.js';
import { orderFacts } from '../src/rules/input.js';
import { RulesRepo } from '../src/rules/repo.js';
import { resolve } from '../src/rules/resolve.js';
import { openServices } from '../src/services.js';
import { MemoryStore } from '../src/store/memory.js';
import { runVariantComparison } from './http-load.js';
import { flag, machine, quantiles } from './util.js';

/** RECY- lines get a linked old part (the stream's generator knows no such field). */
export function linkCores(o: AllocateRequest): AllocateRequest {
  return { ...o, lines: o.lines.map((l) => (l.sku.startsWith('RECY-') ? { ...l, linkedCoreReturn: `CR-${o.orderId}` } : l)) };
}

const median = (xs: number[]) => quantiles(xs).p50;
const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));

export async function runRulesBench(opts: { count: number }) {
  const config = loadConfig({}, { solverThreads: 0, logLevel: 'silent' });
  const net = loadNetworkContext(config);
  const orders = generateOrders(net.network, net.regionsGeoJson, { seed: 1, profile: 'double11', date: '2026-11-11' }).slice(0, opts.count).map(linkCores);

  // 1. The hook alone.
  const repo = new RulesRepo(new MemoryStore([]), new RuleEngine(), net, Date.now, config.timezoneOffsetMinutes);
  await repo.seedBundled(join(defaultDataDir(), 'rules'));
  const known = { warehouses: new Set(net.warehouseById.keys()), couriers: new Set(net.couriers.map((c) => c.id)) };
  const hook: number[] = [];
  const empty: number[] = [];
  let fired = 0;
  for (let round = 0; round < 2; round++) {
    for (const o of orders) {
      const region = net.regions.lookup(o.destination.lon, o.destination.lat)!;
      const e0 = performance.now();
      const e1 = performance.now();
      const t0 = performance.now();
      const snap = repo.engine.snapshot();
      const ev = await snap.evaluate(orderFacts(o, net, region, Date.parse(o.placedAt ?? o.promisedBy), config.timezoneOffsetMinutes), 'pre');
      resolve(ev, snap, known);
      const t1 = performance.now();
      // The first round warms up (JIT, the engine's caches); the second is measured.
      if (round === 1) {
        hook.push((t1 - t0) * 1_000);
        empty.push((e1 - e0) * 1_000);
        fired += ev.fired.length;
      }
    }
  }

  // 2. Whole decisions, rules on and off, alternating.
  let now = 0;
  const open = (rules: boolean) => openServices({ ...config, rulesDir: rules ? '' : 'off' }, { net, store: new MemoryStore(net.network.stock), clock: () => now, rules });
  const on = await open(true);
  const off = await open(false);
  const decideOn: number[] = [];
  const decideOff: number[] = [];
  const diffs: number[] = [];
  const statuses = { on: new Map<string, number>(), off: new Map<string, number>() };
  for (const [i, o] of orders.entries()) {
    now = Date.parse(o.placedAt ?? o.promisedBy);
    const times: Record<'on' | 'off', number> = { on: 0, off: 0 };
    for (const side of i % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
      const svc = side === 'on' ? on : off;
      const t0 = performance.now();
      const d = await svc.allocator.allocate(o);
      times[side] = (performance.now() - t0) * 1_000;
      statuses[side].set(d.status, (statuses[side].get(d.status) ?? 0) + 1);
    }
    decideOn.push(times.on);
    decideOff.push(times.off);
    diffs.push(times.on - times.off);
  }
  await on.close();
  await off.close();
  return {
    orders: orders.length,
    firedPerOrder: fired / orders.length,
    hook: { ...quantiles(hook), baselineP50: median(empty) },
    decide: {
      onP50: median(decideOn),
      offP50: median(decideOff),
      diffP50: Math.round([...diffs].sort((a, b) => a - b)[Math.floor(diffs.length / 2)]!),
      onMean: mean(decideOn),
      offMean: mean(decideOff),
    },
    statuses: { on: Object.fromEntries(statuses.on), off: Object.fromEntries(statuses.off) },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const count = Number(flag('count', '1500'));
  const r = await runRulesBench({ count });
  console.log(`# business rules (bundled ruleset): ${r.orders} Double-11 orders, ${r.firedPerOrder.toFixed(2)} rules fired per order; ${machine()}`);
  console.log(`hook (facts + ZEN evaluation + precedence), µs per order: p50 ${r.hook.p50}, p90 ${r.hook.p90}, p99 ${r.hook.p99}, max ${r.hook.max} (empty timer p50 ${r.hook.baselineP50})`);
  console.log(`whole decision, µs: rules on p50 ${Math.round(r.decide.onP50)}, off p50 ${Math.round(r.decide.offP50)}; per-order difference p50 ${r.decide.diffP50}; means on ${r.decide.onMean}, off ${r.decide.offMean}`);
  console.log(`statuses: on ${JSON.stringify(r.statuses.on)}, off ${JSON.stringify(r.statuses.off)}`);
  if (process.argv.includes('--http')) {
    const seconds = Number(flag('seconds', '10'));
    const connections = Number(flag('connections', '50'));
    const rounds = Number(flag('rounds', '4'));
    const h = await runVariantComparison({ seconds, connections, rounds, variants: { on: {}, off: { RULES_DIR: 'off' } }, label: 'rules', linkCores: true });
    console.log(`# POST /v1/allocate, rules on vs off: ${rounds} rounds of ${seconds} s, ${connections} connections`);
    console.table(h.rows);
    console.log(`mean req/s: on ${h.means.on!.toFixed(0)}, off ${h.means.off!.toFixed(0)}: on = ${((h.means.on! / h.means.off!) * 100).toFixed(1)} % of off`);
  }
}
