import { describe, expect, it } from 'vitest';
import { CONFIG_SPEC, ConfigError, loadConfig } from '../../src/config.js';
import { parseWebhooks } from '../../src/domain/webhooks.js';

describe('config', () => {
  it('has a default, a unit and a description for every value', () => {
    for (const [key, spec] of Object.entries(CONFIG_SPEC)) {
      expect(spec.unit, key).not.toBe('');
      expect(spec.describe, key).not.toBe('');
      expect(spec.default, key).not.toBeUndefined();
    }
    const cfg = loadConfig({});
    expect(cfg.port).toBe(8080);
    expect(cfg.radiusLockFactor).toBe(1.2);
    expect(Object.isFrozen(cfg)).toBe(true);
  });

  it('reads the environment', () => {
    const cfg = loadConfig({ PORT: '9090', RADIUS_LOCK_FACTOR: '1.5', HOST: '127.0.0.1' });
    expect(cfg.port).toBe(9090);
    expect(cfg.radiusLockFactor).toBe(1.5);
    expect(cfg.host).toBe('127.0.0.1');
  });

  it('is documented in the README, variable by variable', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const documented = new Set([...readme.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]));
    const specified = new Set(Object.values(CONFIG_SPEC).map((s) => s.env));
    expect([...documented].sort()).toEqual([...specified].sort());
  });

  it('accepts every value of an enumerated variable, the what-if policies included, and nothing else', () => {
    for (const policy of ['optimized', 'myopic', 'radius-rule', 'nearest']) expect(loadConfig({ ALLOCATION_POLICY: policy }).policy).toBe(policy);
    for (const solver of ['exact', 'highs', 'lp']) expect(loadConfig({ SOLVER: solver }).solver).toBe(solver);
    expect(() => loadConfig({ ALLOCATION_POLICY: 'cheapest' })).toThrow(/ALLOCATION_POLICY=cheapest is not one of optimized, myopic, radius-rule, nearest/);
  });

  it('names every bad variable at once', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', RADIUS_LOCK_FACTOR: '0.5', SOLVE_TIMEOUT_MS: '1.5', LOG_LEVEL: 'loud' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('PORT');
    expect(msg).toContain('RADIUS_LOCK_FACTOR');
    expect(msg).toContain('SOLVE_TIMEOUT_MS');
    expect(msg).toContain('LOG_LEVEL');
  });

  it('validates the webhook targets and the outbox timings, never echoing a secret', () => {
    const secret = 'x'.repeat(40);
    const ok = [{ name: 'after-sales', url: 'https://aftersales.example.com/hooks/dispatchd', codes: ['CORE_RETURN_TASK'], secret }];
    expect(parseWebhooks(loadConfig({ WEBHOOKS: JSON.stringify(ok) }).webhooks)).toEqual(ok);
    expect(parseWebhooks(loadConfig({}).webhooks)).toEqual([]);
    const bad = (webhooks: unknown, ...expected: string[]) => {
      const msg = (() => {
        try {
          loadConfig({ WEBHOOKS: typeof webhooks === 'string' ? webhooks : JSON.stringify(webhooks) });
          return '';
        } catch (e) {
          return (e as Error).message;
        }
      })();
      for (const x of expected) expect(msg).toContain(x);
      expect(msg).not.toContain(secret);
    };
    bad('{not json', 'WEBHOOKS is not valid JSON');
    bad({ name: 'x' }, 'must be a JSON array');
    bad([{ ...ok[0], name: 'After Sales' }], 'WEBHOOKS[0].name');
    bad([ok[0], ok[0]], 'appears twice');
    bad([{ ...ok[0], url: 'ftp://x.example.com/' }], 'WEBHOOKS[0].url must be an http(s) URL');
    bad([{ ...ok[0], url: 'https://user:pw@x.example.com/' }], 'must not carry credentials');
    bad([{ ...ok[0], codes: [] }], 'WEBHOOKS[0].codes must be a non-empty array');
    bad([{ ...ok[0], codes: ['core-return'] }], 'invalid codes ["core-return"]');
    bad([{ ...ok[0], codes: ['*', 'TAG'] }], '"*" receives every code and stands alone');
    bad([{ ...ok[0], secret: 'short' }], 'WEBHOOKS[0].secret must be 32-256');
    bad([{ ...ok[0], headers: {} }], 'unknown fields ["headers"]');
    expect(() => loadConfig({ OUTBOX_BACKOFF_BASE_MS: '5000', OUTBOX_BACKOFF_MAX_MS: '1000' })).toThrow(/OUTBOX_BACKOFF_MAX_MS=1000 must be at least/);
    expect(() => loadConfig({ OUTBOX_TIMEOUT_MS: '20000' })).toThrow(/OUTBOX_LEASE_MS=30000 must be at least twice OUTBOX_TIMEOUT_MS=20000/);
  });
});
