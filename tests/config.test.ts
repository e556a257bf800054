import { describe, expect, it } from 'vitest';
import { CONFIG_SPEC, ConfigError, loadConfig } from '../src/config.js';

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
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const documented = new Set([...readme.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]));
    const specified = new Set(Object.values(CONFIG_SPEC).map((s) => s.env));
    expect([...documented].sort()).toEqual([...specified].sort());
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
});
