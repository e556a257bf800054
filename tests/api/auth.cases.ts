import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessOf, ROLES, type Role } from '../../src/auth/roles.js';
import { LiveCodec } from '../../src/live/codec.js';
import { startLiveService, type LiveService } from '../../src/live/standalone.js';
import type { NetworkContext } from '../../src/network/context.js';
import type { Store } from '../../src/store/types.js';
import { injectRaw, network, TEST_AUTH_CONFIG, TEST_KEY, withKey } from '../support/app.js';

/** Makes a store for one service instance; `shared` = the same state as the previous call's (a second instance). */
export type MakeAuthStore = (net: NetworkContext, shared: boolean) => Promise<Store>;

const codec = LiveCodec.loadSync();
/** AUTH_CACHE_MS of the test services (the default). */
const TEST_AUTH_CACHE_MS = 400;

interface Operation {
  method: string;
  /** The OpenAPI path, {param} style. */
  path: string;
  security: unknown;
  description: string;
}

/** Every operation of a served OpenAPI document. */
function operations(doc: { paths: Record<string, Record<string, { security?: unknown; description?: string }>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(method)) continue;
      out.push({ method: method.toUpperCase(), path, security: op.security, description: op.description ?? '' });
    }
  }
  return out;
}

/**
 * The security suite, run on the embedded store and on Redis (tests/api/auth.test.ts,
 * tests/api/auth.redis.test.ts): the route x role matrix over every operation of the served
 * OpenAPI document, the live map's handshake, and revocation seen by a second instance.
 */
export function authCases(name: string, makeStore: MakeAuthStore) {
  describe(`API keys and roles: ${name}`, () => {
    let a: LiveService;
    let b: LiveService;
    /** One key per role, made through the admin API. */
    const keyOf = {} as Record<Role, string>;
    const sockets: Socket[] = [];

    beforeAll(async () => {
      const net = network();
      a = await startLiveService({ net, store: await makeStore(net, false), config: TEST_AUTH_CONFIG });
      b = await startLiveService({ net, store: await makeStore(net, true), config: TEST_AUTH_CONFIG });
      withKey(a.app);
      withKey(b.app);
      for (const role of ROLES) {
        const r = await a.app.inject({ method: 'POST', url: '/v1/keys', payload: { name: `only ${role}`, roles: [role] } });
        expect(r.statusCode, r.body).toBe(201);
        keyOf[role] = r.json<{ key: string }>().key;
      }
    }, 60_000);
    afterAll(async () => {
      for (const s of sockets) s.close();
      await a?.close();
      await b?.close();
    });

    it('every operation of the OpenAPI document: 401 without a key, 403 with a wrong role, the right roles pass', async () => {
      const res = await injectRaw(a.app, '/docs/json');
      expect(res.statusCode).toBe(200);
      const doc = res.json<{ paths: Record<string, Record<string, { security?: unknown }>>; components: { securitySchemes: Record<string, unknown> } }>();
      expect(doc.components.securitySchemes.ApiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
      const ops = operations(doc);
      expect(ops.length).toBeGreaterThanOrEqual(25);
      let checked = 0;
      for (const op of ops) {
        const url = op.path.replace(/\{[^}]+\}/g, 'X1');
        const access = accessOf(op.method, op.path.replace(/\{([^}]+)\}/g, ':$1'));
        const at = `${op.method} ${op.path}`;
        expect(access, `${at} is in the roles table`).toBeDefined();
        const send = (key: string | undefined) =>
          injectRaw(a.app, {
            method: op.method as 'GET',
            url,
            ...(key !== undefined ? { headers: { 'x-api-key': key } } : {}),
            ...(op.method === 'POST' || op.method === 'PUT' ? { payload: {} } : {}),
          });
        if (access === 'public') {
          expect(op.security, at).toEqual([]);
          const r = await send(undefined);
          expect([401, 403], at).not.toContain(r.statusCode);
          continue;
        }
        expect(op.security, at).toEqual([{ ApiKey: [] }]);
        expect(op.description, at).toContain(`Roles: ${access!.join(', ')}.`);
        const none = await send(undefined);
        expect(none.statusCode, `${at} without a key`).toBe(401);
        expect(none.json().error.code).toBe('DSP_UNAUTHENTICATED');
        const bogus = await send('nobody.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
        expect(bogus.statusCode, `${at} with an unknown key`).toBe(401);
        for (const role of ROLES) {
          const r = await send(keyOf[role]);
          if ((access as readonly Role[]).includes(role)) {
            expect([401, 403], `${at} as ${role}: ${r.statusCode} ${r.body.slice(0, 200)}`).not.toContain(r.statusCode);
          } else {
            expect(r.statusCode, `${at} as ${role}`).toBe(403);
            expect(r.json().error.code).toBe('DSP_FORBIDDEN');
          }
        }
        checked++;
      }
      // The protected operations are all but the two health checks and the contract itself.
      expect(checked).toBeGreaterThanOrEqual(22);
    });

    it('Authorization: Bearer works like X-API-Key (Prometheus scrapes /metrics with it)', async () => {
      expect((await injectRaw(a.app, { url: '/metrics', headers: { authorization: `Bearer ${keyOf.metrics}` } })).statusCode).toBe(200);
      expect((await injectRaw(a.app, { url: '/metrics', headers: { authorization: `Bearer ${keyOf.erp}` } })).statusCode).toBe(403);
    });

    /** Opens a socket to the live map and reports how the handshake ended. */
    const handshake = (svc: LiveService, opts: { key?: string; origin?: string; nsp?: string }) =>
      new Promise<{ ok: boolean; message?: string; code?: string; socket: Socket }>((resolve) => {
        const socket = io(`${svc.url}${opts.nsp ?? '/live'}`, {
          transports: ['websocket'],
          forceNew: true,
          reconnection: false,
          ...(opts.key !== undefined ? { auth: { key: opts.key } } : {}),
          ...(opts.origin !== undefined ? { extraHeaders: { origin: opts.origin } } : {}),
        });
        sockets.push(socket);
        socket.once('snapshot', () => resolve({ ok: true, socket }));
        socket.once('connect_error', (err: Error & { data?: { code?: string } }) => resolve({ ok: false, message: err.message, ...(err.data?.code ? { code: err.data.code } : {}), socket }));
        setTimeout(() => resolve({ ok: false, message: 'timeout', socket }), 10_000);
      });

    it('the live map handshake: no key, a wrong role, a wrong origin and namespace / are refused; a dispatcher key from its own origin is let in', async () => {
      const noKey = await handshake(a, {});
      expect(noKey).toMatchObject({ ok: false, code: 'DSP_UNAUTHENTICATED' });
      const bad = await handshake(a, { key: 'nobody.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
      expect(bad).toMatchObject({ ok: false, code: 'DSP_UNAUTHENTICATED' });
      const erp = await handshake(a, { key: keyOf.erp });
      expect(erp).toMatchObject({ ok: false, code: 'DSP_FORBIDDEN' });
      const evil = await handshake(a, { key: keyOf.dispatcher, origin: 'http://evil.example' });
      expect(evil.ok).toBe(false);
      expect(evil.message).not.toBe('timeout');
      const root = await handshake(a, { key: keyOf.dispatcher, nsp: '/' });
      expect(root).toMatchObject({ ok: false, code: 'DSP_FORBIDDEN' });
      const own = await handshake(a, { key: keyOf.dispatcher, origin: a.url });
      expect(own.ok).toBe(true);
      const cli = await handshake(a, { key: TEST_KEY });
      expect(cli.ok).toBe(true);
    });

    it('a revoked key is refused within 1 s by a second instance on the same store, and its open socket is closed with a reason', async () => {
      const made = await a.app.inject({ method: 'POST', url: '/v1/keys', payload: { name: 'desk 7', roles: ['dispatcher'] } });
      const { id, key } = made.json<{ id: string; key: string }>();
      // Instance B serves the key (and has it in its cache) and holds a map open with it.
      expect((await injectRaw(b.app, { url: '/v1/kpi', headers: { 'x-api-key': key } })).statusCode).toBe(200);
      const open = await handshake(b, { key });
      expect(open.ok).toBe(true);
      const bye = new Promise<{ code: string; detail: string; at: number }>((resolve) =>
        open.socket.once('goodbye', (buf: Buffer) => resolve({ ...codec.decode<{ code: string; detail: string }>('goodbye', new Uint8Array(buf)), at: Date.now() })),
      );
      const gone = new Promise<{ reason: string; at: number }>((resolve) => open.socket.once('disconnect', (reason) => resolve({ reason, at: Date.now() })));

      const t0 = Date.now();
      const revoked = await a.app.inject({ method: 'DELETE', url: `/v1/keys/${id}` });
      expect(revoked.statusCode).toBe(200);
      expect(revoked.json().revokedAt).not.toBeNull();
      let refusedAt = 0;
      while (Date.now() - t0 < 2_000) {
        const r = await injectRaw(b.app, { url: '/v1/kpi', headers: { 'x-api-key': key } });
        if (r.statusCode === 401) {
          refusedAt = Date.now();
          expect(r.json().error.code).toBe('DSP_UNAUTHENTICATED');
          break;
        }
        expect(r.statusCode).toBe(200);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(refusedAt, 'refused by instance B').toBeGreaterThan(0);
      expect(refusedAt - t0, 'ms from revocation to refusal on B').toBeLessThanOrEqual(1_000);
      const [g, d] = await Promise.all([bye, gone]);
      expect(g.code).toBe('DSP_UNAUTHENTICATED');
      expect(g.detail).toContain(id);
      expect(d.reason).toBe('io server disconnect');
      expect(d.at - t0, 'ms from revocation to the socket closing on B').toBeLessThanOrEqual(1_000);
      console.log(`${name}: revoked on A; refused by B after ${refusedAt - t0} ms, B's socket closed after ${d.at - t0} ms`);
      // And it cannot come back.
      expect(await handshake(b, { key })).toMatchObject({ ok: false, code: 'DSP_UNAUTHENTICATED' });
      // The others keep working.
      expect((await injectRaw(b.app, { url: '/v1/kpi', headers: { 'x-api-key': keyOf.dispatcher } })).statusCode).toBe(200);
    });

    it('rotation: the new key works at once, the old one for its grace period only', async () => {
      const made = (await a.app.inject({ method: 'POST', url: '/v1/keys', payload: { name: 'erp-2', roles: ['erp'] } })).json<{ id: string; key: string }>();
      const rot = await a.app.inject({ method: 'POST', url: `/v1/keys/${made.id}/rotate`, payload: { graceSeconds: 1 } });
      expect(rot.statusCode).toBe(201);
      const fresh = rot.json<{ id: string; key: string; roles: string[]; previous: { expiresAt: string; rotatedTo: string } }>();
      expect(fresh.roles).toEqual(['erp']);
      expect(fresh.previous.rotatedTo).toBe(fresh.id);
      const get = (key: string) => injectRaw(b.app, { url: '/v1/orders/nope', headers: { 'x-api-key': key } });
      expect((await get(fresh.key)).statusCode).toBe(404);
      expect((await get(made.key)).statusCode).toBe(404);
      // Past the grace period (and the cache bound) the old key is refused.
      await new Promise((r) => setTimeout(r, 1_000 + TEST_AUTH_CACHE_MS + 100));
      expect((await get(made.key)).statusCode).toBe(401);
      expect((await get(fresh.key)).statusCode).toBe(404);
      const listed = (await a.app.inject('/v1/keys')).json<{ items: { id: string; source: string }[] }>().items;
      expect(listed.map((k) => k.id)).toEqual(expect.arrayContaining([made.id, fresh.id, 'test-all']));
      expect(JSON.stringify(listed)).not.toMatch(/hash|secret/);
    });
  });
}
