import { cpus, totalmem } from 'node:os';

/** p50/p90/p99/max of microsecond samples, rounded to whole µs. */
export function quantiles(xs: readonly number[]): { p50: number; p90: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => (s.length === 0 ? NaN : Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]!));
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: Math.round(s[s.length - 1] ?? NaN) };
}

/** One line naming the machine, for result tables. */
export function machine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

/** `--name value` from argv, or the default. */
export function flag(name: string, dflt?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
