import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/errors.js';

// Keeps the registry, its documentation and the codes the code uses in step (design example 8).
describe('error registry', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
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
    walk(new URL('../../src', import.meta.url).pathname);
    expect(used.size).toBeGreaterThan(5);
    for (const code of used) expect(Object.keys(ERRORS), code).toContain(code);
  });
});

// Reason codes are part of the contract too: every code the explanation code can emit is documented.
describe('reason codes', () => {
  it('documents every reason code that src/allocate emits, and no other', async () => {
    const { readdirSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../docs/reasons.md', import.meta.url), 'utf8');
    const documented = new Set([...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!));
    const dir = new URL('../../src/allocate/', import.meta.url);
    const emitted = new Set<string>();
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const text = readFileSync(new URL(f, dir), 'utf8');
      for (const m of text.matchAll(/code: (?:[^'\n]*\? )?'([A-Z_]+)'(?: : '([A-Z_]+)')?/g)) {
        emitted.add(m[1]!);
        if (m[2]) emitted.add(m[2]);
      }
      for (const m of text.matchAll(/'([A-Z][A-Z_]{3,})'/g)) if (documented.has(m[1]!)) emitted.add(m[1]!);
    }
    // The exclusion codes are declared as a union type in candidates.ts.
    for (const m of readFileSync(new URL('candidates.ts', dir), 'utf8').matchAll(/code: ('[A-Z_]+'(?: \| '[A-Z_]+')*);/g)) {
      for (const c of m[1]!.matchAll(/'([A-Z_]+)'/g)) emitted.add(c[1]!);
    }
    expect(emitted.size).toBeGreaterThan(10);
    for (const code of emitted) expect([...documented], code).toContain(code);
    for (const code of documented) expect([...emitted], code).toContain(code);
  });
});
