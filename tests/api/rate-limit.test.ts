import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { FIXED_NOW, injectRaw, network, TEST_AUTH_CONFIG, TEST_KEY, testApp } from '../support/app.js';
import { useRedis } from '../support/redis-server.js';

/** A second all-roles key of API_KEYS, to show that limits are per key. */
const OTHER_SECRET = 'other-secret-0123456789abcdefghijklmnopqrs';
const OTHER_KEY = `other.${OTHER_SECRET}`;
const keys = `${TEST_AUTH_CONFIG.apiKeys},other:erp+dispatcher:${OTHER_SECRET}`;

describe('rate limits (@fastify/rate-limit after the key check)', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    ({ app } = await testApp({ apiKeys: keys, rateLimitPerKey: 3, rateLimitPerAddress: 2, rateLimitWindowMs: 60_000 }));
  });
  afterAll(async () => app?.close());

  it('counts per API key: the 4th request of a key in the window is 429 DSP_RATE_LIMITED with Retry-After; another key is not affected', async () => {
    const get = (key: string) => injectRaw(app, { url: '/v1/kpi', headers: { 'x-api-key': key } });
    for (let i = 0; i < 3; i++) expect((await get(TEST_KEY)).statusCode).toBe(200);
    const limited = await get(TEST_KEY);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('DSP_RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await get(OTHER_KEY)).statusCode).toBe(200);
  });

  it('counts requests without a valid key per address (refused keys included); health checks are never counted', async () => {
    const r1 = await injectRaw(app, { url: '/v1/kpi', remoteAddress: '10.0.0.7' });
    const r2 = await injectRaw(app, { url: '/v1/kpi', remoteAddress: '10.0.0.7', headers: { 'x-api-key': 'nobody.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    expect([r1.statusCode, r2.statusCode]).toEqual([401, 401]);
    const r3 = await injectRaw(app, { url: '/docs/json', remoteAddress: '10.0.0.7' });
    expect(r3.statusCode).toBe(429);
    expect(r3.headers['retry-after']).toBeDefined();
    expect((await injectRaw(app, { url: '/docs/json', remoteAddress: '10.0.0.8' })).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await injectRaw(app, { url: '/healthz', remoteAddress: '10.0.0.7' })).statusCode).toBe(200);
  });
});

describe('rate limits shared through Redis (REDIS_URL)', () => {
  const db = useRedis();
  const apps: FastifyInstance[] = [];
  beforeAll(async () => {
    const config = loadConfig({}, { ...TEST_AUTH_CONFIG, redisUrl: db.url, rateLimitPerKey: 3, rateLimitWindowMs: 60_000, solverThreads: 0, solverWarmUpRounds: 0 });
    for (let i = 0; i < 2; i++) apps.push(await buildApp({ config, net: network(), clock: () => FIXED_NOW, logger: false }));
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
  });

  it('two instances count one key together', async () => {
    const [a, b] = apps as [FastifyInstance, FastifyInstance];
    const get = (app: FastifyInstance) => injectRaw(app, { url: '/v1/kpi', headers: { 'x-api-key': TEST_KEY } });
    expect([(await get(a)).statusCode, (await get(b)).statusCode, (await get(a)).statusCode]).toEqual([200, 200, 200]);
    const limited = await get(b);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('DSP_RATE_LIMITED');
  });
});

describe('security headers and 503s', () => {
  it('every answer carries the security headers, with a content security policy', async () => {
    const { app } = await testApp();
    try {
      for (const url of ['/v1/network', '/docs/json', '/nope']) {
        const r = await app.inject(url);
        expect(r.headers['content-security-policy'], url).toContain("script-src 'self'");
        expect(r.headers['content-security-policy'], url).toContain("frame-ancestors 'none'");
        expect(r.headers['content-security-policy'], url).not.toContain('unsafe-eval');
        expect(r.headers['x-content-type-options'], url).toBe('nosniff');
        expect(r.headers['x-frame-options'], url).toBe('SAMEORIGIN');
        expect(r.headers['referrer-policy'], url).toBe('no-referrer');
      }
    } finally {
      await app.close();
    }
  });

  it('a 503 says when to retry (Retry-After)', async () => {
    class Down extends MemoryStore {
      override async stock(): Promise<never> {
        throw new StoreUnavailableError('Redis unreachable (test)');
      }
    }
    const { app } = await testApp({}, async (net) => new Down(net.network.stock, { clock: () => FIXED_NOW }));
    try {
      const r = await app.inject('/v1/stock');
      expect(r.statusCode).toBe(503);
      expect(r.json().error.code).toBe('DSP_STORE_UNAVAILABLE');
      expect(r.headers['retry-after']).toBe('1');
    } finally {
      await app.close();
    }
  });

  it('an instance shutting down: readiness 503 first, then every request 503 DSP_SHUTTING_DOWN with Connection: close', async () => {
    const { app } = await testApp();
    try {
      expect((await app.inject('/readyz')).statusCode).toBe(200);
      app.dspLifecycle.phase = 'draining';
      const ready = await app.inject('/readyz');
      expect(ready.statusCode).toBe(503);
      expect(ready.json().error.code).toBe('DSP_SHUTTING_DOWN');
      expect(ready.headers['retry-after']).toBe('1');
      const served = await app.inject('/v1/network');
      expect(served.statusCode).toBe(200);
      expect(served.headers.connection).toBe('close');
      app.dspLifecycle.phase = 'closing';
      const refused = await app.inject('/v1/network');
      expect(refused.statusCode).toBe(503);
      expect(refused.json().error.code).toBe('DSP_SHUTTING_DOWN');
      expect(refused.headers.connection).toBe('close');
    } finally {
      await app.close();
    }
  });
});
