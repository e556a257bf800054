import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXACT_TUNING } from '../../solver/exact/tuning.js';

/** docs/solver.md's tuning table and solver/exact/tuning.ts stay one table: same knobs, same values. */
describe('the exact search tuning table', () => {
  it('is documented knob by knob with its value', () => {
    const doc = readFileSync(new URL('../../docs/solver.md', import.meta.url), 'utf8');
    const rows = new Map(
      // A cell may hold an escaped pipe (\|bound\|).
      [...doc.matchAll(/^\| `([a-zA-Z]+)` \| ([^|]+) \|(?: (?:[^|\\]|\\\|)+ \|){3}$/gm)].map((m) => [m[1]!, m[2]!.trim()]),
    );
    // A documented value such as "10,000" or "1/32" reads as a number.
    const value = (s: string) => (s.includes('/') ? s.split('/').map(Number).reduce((a, b) => a / b) : Number(s.replaceAll(',', '')));
    const documented = [...rows.keys()].filter((k) => k in EXACT_TUNING).sort();
    expect(documented).toEqual(Object.keys(EXACT_TUNING).sort());
    for (const [k, v] of Object.entries(EXACT_TUNING)) expect(value(rows.get(k)!), k).toBe(v);
  });
});
