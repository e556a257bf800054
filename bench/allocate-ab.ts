/**
 * Issue 21's request-path features on and off, CPU per POST /v1/allocate, measured as concurrent
 * pairs: each pair runs bench/allocate-cpu.ts twice at the same time, once as the service runs
 * (lots, merging) and once with both off (`--no-lots`, MERGE_WINDOW_MINUTES=0), so that both
 * variants meet the same load from the rest of the machine, and prints the ratio per pair.
 *
 * Why pairs: on this shared 2-core machine two runs of allocate-cpu.ts a minute apart differed by
 * 15-30 %, more than the difference measured, while the ratio within a concurrent pair stayed
 * within a few per cent from pair to pair. Both variants of one process (alternating blocks in one
 * app each) was tried first and dropped: the shared heap and compiled code charged each variant for
 * the other (bench/README.md, 2026-12-07).
 *
 *   npx tsx bench/allocate-ab.ts [--pairs 3] [--requests 2000] [--rounds 3] [--stream-clock]
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { flag, machine } from './util.js';

const pairs = Number(flag('pairs', '3'));
const requests = String(Number(flag('requests', '2000')));
const rounds = String(Number(flag('rounds', '3')));
const streamClock = process.argv.includes('--stream-clock');
const cpuBench = fileURLToPath(new URL('./allocate-cpu.ts', import.meta.url));

/** One run of allocate-cpu.ts; its min CPU µs per request over the rounds. */
function run(off: boolean): Promise<number> {
  const args = ['--import', 'tsx', cpuBench, '--requests', requests, '--rounds', rounds, ...(off ? ['--no-lots'] : []), ...(streamClock ? ['--stream-clock'] : [])];
  const env = { ...process.env, ...(off ? { MERGE_WINDOW_MINUTES: '0' } : {}) };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /CPU µs per request by round: .*; min (\d+)/.exec(out);
      if (code !== 0 || m === null) reject(new Error(`allocate-cpu.ts ${off ? 'off' : 'on'} exited ${code}: ${out}`));
      else resolve(Number(m[1]));
    });
  });
}

console.log(`# POST /v1/allocate CPU per request, issue 21's features on and off as concurrent pairs (allocate-cpu.ts --requests ${requests} --rounds ${rounds}${streamClock ? ' --stream-clock' : ''}, min of the rounds); ${machine()}`);
const ratios: number[] = [];
for (let p = 1; p <= pairs; p++) {
  const [on, off] = await Promise.all([run(false), run(true)]);
  ratios.push(on / off);
  console.log(`pair ${p}: on ${on} µs, off ${off} µs, on / off ${(on / off).toFixed(3)}`);
}
const sorted = [...ratios].sort((a, b) => a - b);
console.log(`on / off: ${sorted[0]!.toFixed(3)}-${sorted[sorted.length - 1]!.toFixed(3)}, median ${sorted[sorted.length >> 1]!.toFixed(3)}`);
