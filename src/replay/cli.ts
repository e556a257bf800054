#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config.js';
import { openReplayContext } from './context.js';
import type { Policy } from './engine.js';
import { renderReport } from './report.js';
import { CLAIRVOYANT_MIP_MS } from './clairvoyant.js';
import { runReplay, type ClairvoyantResult } from './run.js';
import { loadScenario, ScenarioError, scenarioProblems, ScenarioSchema } from './scenario.js';

/**
 * `npm run replay -- <scenario.json> [--policies nearest,radius-rule,optimized] [--json out.json] [--html out.html] [--no-hindsight] [--clairvoyant] [--clairvoyant-result result.json] [--reoptimize] [--no-merge] [--no-lots] [--no-promotion]`
 * `npm run replay -- --schema` prints the scenario JSON Schema.
 *
 * Replays a scenario under each policy (src/replay/engine.ts), with a progress bar on stderr, and
 * prints the KPI table (money and penalties apart, docs/replays.md), with the per-order hindsight
 * bound (src/replay/hindsight.ts; --no-hindsight skips it) and, with --clairvoyant, the
 * whole-stream clairvoyant model (src/replay/clairvoyant.ts: its LP bound and plan) and each
 * policy's gap to the bound and share of the gap captured; --clairvoyant-result reads a result
 * computed before ({lpBound, costPerOrder, onTimeRate} as JSON) instead. --json and --html write
 * the report. --no-merge replays with MERGE_WINDOW_MINUTES 0 (no joining, no merging);
 * --no-lots replays shelf-life stock without lots (overrides.lots false: no FEFO, as replays
 * were before lots); --no-promotion replays a promotion day's purchases unsplit and without
 * discount (the generator's promotion.active false: the pre-promotion level). Each marks the
 * scenario's name.
 */
const POLICIES: readonly Policy[] = ['nearest', 'radius-rule', 'myopic', 'optimized'];

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--schema')) {
    process.stdout.write(`${JSON.stringify(ScenarioSchema, null, 2)}\n`);
    return 0;
  }
  const valued = ['--policies', '--json', '--html', '--clairvoyant-result'];
  const path = argv.find((a, i) => !a.startsWith('--') && !valued.includes(argv[i - 1] ?? ''));
  const flag = (name: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
  if (!path) {
    console.error('usage: npm run replay -- <scenario.json> [--policies nearest,radius-rule,optimized] [--json out.json] [--html out.html] [--no-hindsight] [--clairvoyant | --clairvoyant-result result.json] [--reoptimize] [--no-merge] [--no-lots] [--no-promotion] | --schema');
    return 2;
  }
  let config;
  let loaded;
  try {
    config = loadConfig();
    loaded = loadScenario(path);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof ScenarioError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  const { scenario, fileEvents } = loaded;
  if (argv.includes('--no-merge')) {
    scenario.overrides = { ...scenario.overrides, mergeWindowMinutes: 0 };
    scenario.name += ' (merging off)';
  }
  if (argv.includes('--no-lots')) {
    scenario.overrides = { ...scenario.overrides, lots: false };
    scenario.name += ' (lots off)';
  }
  if (argv.includes('--no-promotion')) {
    if (!scenario.generator?.promotion) {
      console.error(`${path}: --no-promotion needs a generator with a promotion`);
      return 2;
    }
    scenario.generator.promotion = { ...scenario.generator.promotion, active: false };
    scenario.name += ' (promotion off: the same purchases unsplit)';
  }
  const asked = (flag('policies') ?? scenario.policies?.join(',') ?? 'nearest,optimized').split(',').map((p) => p.trim());
  const bad = asked.filter((p) => !POLICIES.includes(p as Policy));
  if (bad.length > 0) {
    console.error(`unknown policies: ${bad.join(', ')} (use ${POLICIES.join(', ')})`);
    return 2;
  }
  let clairvoyant: ClairvoyantResult | null = null;
  const clairFile = flag('clairvoyant-result');
  if (clairFile) {
    try {
      const c = JSON.parse(readFileSync(clairFile, 'utf8')) as Partial<ClairvoyantResult>;
      clairvoyant = { lpBound: c.lpBound ?? null, costPerOrder: c.costPerOrder ?? null, onTimeRate: c.onTimeRate ?? null };
    } catch (e) {
      console.error(`--clairvoyant-result ${clairFile}: ${(e as Error).message}`);
      return 2;
    }
  }
  const { net, solver, machine } = await openReplayContext(config);
  const problems = scenarioProblems(scenario, net, fileEvents);
  if (problems.length > 0) {
    console.error(`${path}: ${problems.slice(0, 10).join('; ')}`);
    return 2;
  }
  console.error(`${scenario.name}: policies ${asked.join(', ')}`);
  const started = new Map<string, number>();
  const result = await runReplay(scenario, fileEvents, asked as Policy[], {
    net,
    config,
    solver,
    machine,
    hindsight: !argv.includes('--no-hindsight'),
    clairvoyant,
    clairvoyantModel: argv.includes('--clairvoyant') || scenario.clairvoyant === true ? { mipTimeLimitMs: CLAIRVOYANT_MIP_MS, lateDayWeight: 0 } : null,
    // --reoptimize: the re-optimisation job runs every REOPTIMIZE_INTERVAL_MS of simulated time (5 min when it is 0, i.e. off in service).
    ...(argv.includes('--reoptimize') ? { reoptimizeIntervalMs: config.reoptimizeIntervalMs || 300_000 } : {}),
    onProgress: (stage, done, total) => {
      if (!started.has(stage)) started.set(stage, Date.now());
      if (!process.stderr.isTTY && done !== total) return;
      const width = 30;
      const filled = Math.round((done / Math.max(1, total)) * width);
      process.stderr.write(`\r  ${stage.padEnd(12)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done === total ? `  ${((Date.now() - started.get(stage)!) / 1000).toFixed(1)} s\n` : ''}`);
    },
  });
  const hindsight = result.hindsight;
  const table = Object.fromEntries(
    Object.entries(result.policies).map(([name, r]) => [
      name,
      {
        'on-time %': +(r.onTimeRate * 100).toFixed(1),
        'money CNY/order': r.costPerOrder,
        'penalties CNY/order': r.penaltyPerOrder,
        'split %': +(r.splitRate * 100).toFixed(1),
        transfers: r.transfers,
        backorders: r.backorders,
        'backordered units': r.backorderedUnits,
        'backordered CNY': r.backorderedValueCny,
        partial: r.partialOrders,
        'failed dispatches': r.failedDispatches,
        reroutes: r.reroutes,
        'overflow parcels': r.overflowParcels,
        'decision µs p50': r.decisionMicrosP50,
        'decision µs p99': r.decisionMicrosP99,
        'gap captured %': r.gapCaptured === null ? null : +(r.gapCaptured * 100).toFixed(1),
      },
    ]),
  );
  console.table(table);
  // Freight and merging (docs/replays.md "KPIs"): money only, no penalties.
  console.table(
    Object.fromEntries(
      Object.entries(result.policies).map(([name, r]) => [
        name,
        {
          'freight CNY': r.freightCny,
          'freight CNY/order': r.freightCnyPerOrder,
          'goods CNY': r.goodsCny,
          'freight CNY/1,000 CNY goods': r.freightCnyPer1000CnyGoods,
          waybills: r.merging.waybills,
          'joined shipments': r.merging.joinedShipments,
          'merged groups': r.merging.mergedGroups,
          'orders in groups': r.merging.ordersInMergedGroups,
          'freight saved by joins CNY': r.merging.freightSavedCny,
          'merge window min': r.merging.windowMinutes,
          'joins after pick-up': r.merging.joinsAfterPickup,
        },
      ]),
    ),
  );
  // Shelf-life lots (docs/replays.md "KPIs"): units apart from money.
  console.table(
    Object.fromEntries(
      Object.entries(result.policies).map(([name, r]) => [
        name,
        {
          lots: r.lots.enabled ? `from ${r.lots.seededOn}` : 'off',
          'near-expiry units shipped': r.lots.nearExpiryUnitsShipped,
          'written off units (end)': r.lots.writtenOffUnits,
          'written off CNY (end)': r.lots.writtenOffValueCny,
          'written off units (start)': r.lots.writtenOffUnitsAtStart,
          'written off CNY (start)': r.lots.writtenOffValueCnyAtStart,
        },
      ]),
    ),
  );
  for (const [name, r] of Object.entries(result.policies)) {
    const x = r.reoptimization;
    if (x) {
      console.log(
        `${name} re-optimisation: every ${x.intervalMs / 60_000} min of simulated time, ${x.rounds} rounds, ${x.solved} orders re-solved, ${x.movedOrders} orders / ${x.movedShipments} shipments moved, ${x.savingCny} CNY saved, ${x.refused} moves refused at the store, ${x.movesAfterPickup} moves after pick-up (independent check), ${x.seconds} s of rounds`,
      );
    }
  }
  const cv = hindsight?.clairvoyant;
  if (cv) {
    console.log(
      `clairvoyant LP bound: ${cv.lpBound} CNY money per order over all orders (valid for plans backordering at most ${cv.lpBackorderedUnits} units; ${cv.model.columns} of ${cv.model.candidateOptions} options priced in, ${cv.model.lpRounds} rounds)`,
    );
    if (cv.plan) {
      console.log(
        `clairvoyant plan: ${cv.costPerOrder} CNY money per order, on time ${((cv.onTimeRate ?? 0) * 100).toFixed(1)} %, penalties ${cv.plan.penaltyPerOrder} CNY per order, ${cv.plan.backorderedUnits} units backordered (MIP ${cv.plan.status}, gap ${cv.plan.mipGap === null ? 'n/a' : `${(cv.plan.mipGap * 100).toFixed(2)} %`}); ${cv.seconds.candidates + cv.seconds.lp + (cv.seconds.mip ?? 0)} s`,
      );
    }
  } else if (hindsight?.lpBound != null) console.log(`clairvoyant LP bound: ${hindsight.lpBound} CNY money per order (all orders)`);
  if (hindsight?.perOrder) {
    const b = hindsight.perOrder;
    console.log(`per-order hindsight: ${b.costPerOrder} CNY objective per order that ships (a bound on money + lateness and split weights), its plans' money ${b.moneyPerOrder} CNY per order over all orders (${b.method}${b.unproven ? `; ${b.unproven} orders not proven optimal` : ''})`);
  }
  const out = flag('json');
  if (out) {
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.error(`wrote ${out}`);
  }
  const html = flag('html');
  if (html) {
    writeFileSync(html, renderReport(result));
    console.error(`wrote ${html}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
