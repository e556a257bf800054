/**
 * Issue 21's request-path features on and off, CPU per POST /v1/allocate, measured as concurrent
 * pairs: each pair runs bench/allocate-cpu.ts twice at the same time, once as the service runs
 * (lots, merging) and once with both off (`--no-lots`, MERGE_WINDOW_MINUTES=0), so that both
 * variants meet the same load from the rest of the machine, and prints the ratio per pair.
 *
 * What each run measures: the service as production runs it (tsc's output in dist/; `npm run build`
 * first), on the stream's own clock, warmed up on one whole day of the Double-11 stream, then
 * `--rounds` more whole days; the figure is the CPU per request over all of them (their mean), the
 * cost of the same orders at the same hours in both variants. The min of shorter rounds was used
 * before and flattered either variant at random: rounds of part of a day meet different hours of
 * it (bench/README.md, 2026-12-07 "a fair bench run").
 *
 * Why pairs: on this shared 2-core machine two runs of allocate-cpu.ts a minute apart differed by
 * 15-30 %, more than the difference measured, while the ratio within a concurrent pair varied far
 * less. Both variants of one process (alternating blocks in one app each) was tried first and
 * dropped: the shared heap and compiled code charged each variant for the other.
 *
 * Pairs vary: two runs of one build side by side differed by up to 11 % (A/A, 18:53), so judge a
 * ratio from many pairs (an even number: the variant started first alternates).
 *
 *   npm run build && npx tsx bench/allocate-ab.ts [--pairs 4] [--rounds 3] [--requests day] [--warmup day] [--wall-clock] [--tsx]
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { flag, machine } from './util.js';

const pairs = Number(flag('pairs', '4'));
const requests = flag('requests', 'day')!;
const warmup = flag('warmup', 'day')!;
const rounds = String(Number(flag('rounds', '3')));
// The stream clock by default: with the wall clock, the orders' hours (and so the cut-offs and
// waves the solver meets) depend on the hour the bench runs.
const streamClock = !process.argv.includes('--wall-clock');
// dist/ by default; --tsx runs the TypeScript sources through tsx (esbuild's output, not what runs).
const fromDist = !process.argv.includes('--tsx');
if (fromDist && !existsSync(fileURLToPath(new URL('../dist/src/app.js', import.meta.url)))) throw new Error('run `npm run build` first (or pass --tsx)');
const cpuBench = fileURLToPath(new URL('./allocate-cpu.ts', import.meta.url));
const common = ['--requests', requests, '--warmup', warmup, '--rounds', rounds, ...(streamClock ? ['--stream-clock'] : []), ...(fromDist ? ['--dist'] : [])];

/** One run of allocate-cpu.ts; its mean CPU µs per request over the rounds. */
function run(off: boolean): Promise<number> {
  const args = ['--import', 'tsx', cpuBench, ...common, ...(off ? ['--no-lots'] : [])];
  const env = { ...process.env, ...(off ? { MERGE_WINDOW_MINUTES: '0' } : {}) };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /CPU µs per request by round: .*; mean (\d+)/.exec(out);
      if (code !== 0 || m === null) reject(new Error(`allocate-cpu.ts ${off ? 'off' : 'on'} exited ${code}: ${out}`));
      else resolve(Number(m[1]));
    });
  });
}

console.log(`# POST /v1/allocate CPU per request, issue 21's features on and off as concurrent pairs (allocate-cpu.ts ${common.join(' ')}, mean over the rounds); ${machine()}`);
const ratios: number[] = [];
for (let p = 1; p <= pairs; p++) {
  // Which variant starts first alternates: two runs of the same build, started a moment apart,
  // differed by 4-11 % one way in one batch and 4-8 % the other way in the next (bench/README.md,
  // 2026-12-07 18:45-18:55), so an even number of pairs has each variant first as often.
  const onFirst = p % 2 === 1;
  const [on, off] = onFirst ? await Promise.all([run(false), run(true)]) : ((await Promise.all([run(true), run(false)])).reverse() as [number, number]);
  ratios.push(on / off);
  console.log(`pair ${p} (${onFirst ? 'on' : 'off'} started first): on ${on} µs, off ${off} µs, on / off ${(on / off).toFixed(3)}`);
}
const sorted = [...ratios].sort((a, b) => a - b);
const median = sorted.length % 2 === 1 ? sorted[sorted.length >> 1]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
const geomean = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
console.log(`on / off: ${sorted[0]!.toFixed(3)}-${sorted[sorted.length - 1]!.toFixed(3)}, median ${median.toFixed(3)}, geometric mean ${geomean.toFixed(3)}; throughput on / off ${(1 / median).toFixed(3)}`);
