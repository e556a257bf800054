#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { loadNetworkContext } from '../app.js';
import { ConfigError, loadConfig } from '../config.js';
import { defaultDataDir } from '../network/load.js';
import { loadExactSolver } from '../solve/exact.js';
import { InThreadSolver } from '../solve/pool.js';
import { loadStatusMap, StatusMachine } from '../tracking/status.js';
import { replayPolicy, scenarioEvents, type Policy, type PolicyReport } from './engine.js';
import { hindsightBound, type HindsightBound } from './hindsight.js';
import { renderReport } from './report.js';
import { loadScenario, ScenarioError, ScenarioSchema } from './scenario.js';

/**
 * `npm run replay -- <scenario.json> [--policies nearest,radius-rule,optimized] [--json out.json] [--html out.html]`
 * `npm run replay -- --schema` prints the scenario JSON Schema.
 *
 * Replays a scenario under each policy (src/replay/engine.ts), with a progress bar on stderr, and
 * prints the KPI table with each policy's gap to the hindsight bound (src/replay/hindsight.ts;
 * --no-hindsight skips it); --json and --html write the report.
 */
const POLICIES: readonly Policy[] = ['nearest', 'radius-rule', 'optimized'];

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--schema')) {
    process.stdout.write(`${JSON.stringify(ScenarioSchema, null, 2)}\n`);
    return 0;
  }
  const path = argv.find((a) => !a.startsWith('--') && argv[argv.indexOf(a) - 1] !== '--policies' && argv[argv.indexOf(a) - 1] !== '--json' && argv[argv.indexOf(a) - 1] !== '--html');
  const flag = (name: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
  if (!path) {
    console.error('usage: npm run replay -- <scenario.json> [--policies nearest,radius-rule,optimized] [--json out.json] [--html out.html] | --schema');
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
  const asked = (flag('policies') ?? scenario.policies?.join(',') ?? 'nearest,optimized').split(',').map((p) => p.trim());
  const bad = asked.filter((p) => !POLICIES.includes(p as Policy));
  if (bad.length > 0) {
    console.error(`unknown policies: ${bad.join(', ')} (use ${POLICIES.join(', ')})`);
    return 2;
  }
  const net = loadNetworkContext(config);
  const events = scenarioEvents(scenario, fileEvents, net);
  const solver = new InThreadSolver(await loadExactSolver(config.solver));
  const machine = new StatusMachine(loadStatusMap(defaultDataDir()));
  const orders = events.filter((e) => e.type === 'order').length;
  console.error(`${scenario.name}: ${orders} orders, ${events.length} events, policies ${asked.join(', ')}`);
  const policies: Record<string, PolicyReport> = {};
  for (const policy of asked as Policy[]) {
    const t0 = Date.now();
    policies[policy] = await replayPolicy(scenario, events, policy, {
      net,
      config,
      solver,
      machine,
      onProgress: (done, total) => {
        if (!process.stderr.isTTY && done !== total) return;
        const width = 30;
        const filled = Math.round((done / total) * width);
        process.stderr.write(`\r  ${policy.padEnd(12)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done === total ? `  ${((Date.now() - t0) / 1000).toFixed(1)} s\n` : ''}`);
      },
    });
  }
  let hindsight: HindsightBound | null = null;
  if (!argv.includes('--no-hindsight')) {
    const t0 = Date.now();
    hindsight = await hindsightBound(events, net, config, solver, (done, total) => {
      if (!process.stderr.isTTY && done !== total) return;
      process.stderr.write(`\r  hindsight    ${done}/${total}${done === total ? `  ${((Date.now() - t0) / 1000).toFixed(1)} s\n` : ''}`);
    });
  }
  const table = Object.fromEntries(
    Object.entries(policies).map(([name, r]) => [
      name,
      {
        'on-time %': +(r.onTimeRate * 100).toFixed(1),
        'CNY/order': r.costPerOrder,
        'split %': +(r.splitRate * 100).toFixed(1),
        transfers: r.transfers,
        backorders: r.backorders,
        'failed dispatches': r.failedDispatches,
        reroutes: r.reroutes,
        'decision µs p50': r.decisionMicrosP50,
        'decision µs p99': r.decisionMicrosP99,
        'gap to hindsight %': hindsight && hindsight.costPerOrder > 0 ? +((r.costPerOrder / hindsight.costPerOrder - 1) * 100).toFixed(1) : null,
      },
    ]),
  );
  console.table(table);
  if (hindsight) console.log(`hindsight bound: ${hindsight.costPerOrder} CNY per order that ships (${hindsight.method}${hindsight.unproven ? `; ${hindsight.unproven} orders not proven optimal` : ''})`);
  const result = { scenario: scenario.name, orders, policies, hindsight };
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
