import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import { order, seededRedisStore, testApp } from '../support/app.js';
import { useRedis } from '../support/redis-server.js';

// Two instances sharing one Redis of the test's own: a rule activated on A is in force on B within
// 1 s (B polls the rules epoch every RULES_POLL_MS), and a rollback on A restores B's decisions.
const BUNDLED = JSON.parse(readFileSync(new URL('../../data/rules/dispatch.json', import.meta.url), 'utf8')) as { graph: { nodes: { id: string; content?: { rules: Record<string, string>[] } }[] } };

const db = useRedis();
let a: FastifyInstance;
let b: FastifyInstance;

async function instance(seed: boolean): Promise<FastifyInstance> {
  const redis = db.client({ enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1_000 });
  redis.on('error', () => undefined);
  await new Promise((r) => redis.once('ready', r));
  const { app } = await testApp({}, seededRedisStore(redis, { seed }));
  return app;
}

beforeAll(async () => {
  a = await instance(true);
  b = await instance(false);
});
afterAll(async () => {
  await a?.close().catch(() => undefined);
  await b?.close().catch(() => undefined);
});

/** Polls B until it runs `version` of the dispatch ruleset; fails past 1 s. */
async function inForceOnB(version: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const rs = (await b.inject({ url: '/v1/rulesets/dispatch' })).json<{ inForce: number | null }>();
    if (rs.inForce === version) return;
    expect(Date.now() - t0, `version ${version} not in force on B`).toBeLessThan(1_000);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('business rules across instances sharing Redis', () => {
  it('both instances start on the bundled version 1 (seeded once)', async () => {
    const list = (await b.inject({ url: '/v1/rulesets' })).json<{ items: { id: string; activeVersion: number; latestVersion: number }[] }>().items;
    expect(list.map((r) => [r.id, r.activeVersion, r.latestVersion])).toEqual([['dispatch', 1, 1]]);
  });

  it('an edit activated on A is in force on B within 1 s; a rollback on A restores B\'s decisions', async () => {
    const ka = () => order({ customerId: 'KA-SAIC-01' });
    const onB = async () => (await b.inject({ method: 'POST', url: '/v1/allocate', payload: ka() })).json<Decision>().shipments.map((s) => s.warehouseId);
    expect(await onB()).toEqual(['SH01']);
    const g = structuredClone(BUNDLED.graph);
    g.nodes.find((n) => n.id === 'key-accounts')!.content!.rules[0]!.p_warehouseId = '"SZ01"';
    const draft = await a.inject({ method: 'POST', url: '/v1/rulesets/dispatch/versions', payload: { name: 'SAIC from Suzhou', failMode: 'open', graph: g } });
    expect(draft.statusCode).toBe(201);
    const v = draft.json<{ version: number }>().version;
    expect((await a.inject({ method: 'POST', url: `/v1/rulesets/dispatch/versions/${v}/activate` })).statusCode).toBe(200);
    await inForceOnB(v);
    expect(await onB()).toEqual(['SZ01']);
    expect((await a.inject({ method: 'POST', url: '/v1/rulesets/dispatch/rollback', payload: {} })).json()).toMatchObject({ version: 1 });
    await inForceOnB(1);
    expect(await onB()).toEqual(['SH01']);
  });
});
