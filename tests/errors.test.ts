import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../src/errors.js';

// Keeps the registry, its documentation and the codes the code uses in step (design example 8).
describe('error registry', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Map([...doc.matchAll(/^\| `(DSP_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));

  it('documents every registered code with its HTTP status', () => {
    for (const [code, { status }] of Object.entries(ERRORS)) expect(documented.get(code), code).toBe(status);
  });

  it('documents no code that is not registered', () => {
    for (const code of documented.keys()) expect(Object.keys(ERRORS)).toContain(code);
  });

  it('registers every DSP_ code used in src/', async () => {
    const { readdirSync, statSync } = await import('node:fs');
    const { join } = await import('node:path');
    const used = new Set<string>();
    const walk = (dir: string) => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/'(DSP_[A-Z_]+)'/g)) used.add(m[1]!);
      }
    };
    walk(new URL('../src', import.meta.url).pathname);
    expect(used.size).toBeGreaterThan(5);
    for (const code of used) expect(Object.keys(ERRORS), code).toContain(code);
  });
});
