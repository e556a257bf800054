import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { parseIsoWithOffset, toIsoWithOffset } from '../allocate/time.js';
import { ErrorBody, LockCreate, LockView } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import type { StockLock } from '../store/types.js';
import type { Services } from './services.js';

const Params = Type.Object({ lockId: Type.String({ minLength: 1, maxLength: 160 }) });
const Headers = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$', description: 'A retry with the same key answers the lock created first instead of locking twice.' }),
  ),
});

/** Longest lock accepted, ms: a lock is a few days ahead of a key account's order, not a stock transfer. */
const MAX_LOCK_MS = 90 * 24 * 3_600_000;

/**
 * Customer stock locks (the case's "reservation lock": a key account locks 200 brake pads 3 days
 * ahead). POST /v1/locks, GET /v1/locks/{lockId}, DELETE /v1/locks/{lockId}. Locked units are not
 * free for other customers; the owner's allocations consume them first; at expiresAt the
 * remaining units return to free stock by themselves (see src/store/types.ts).
 */
export const lockRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    const view = (l: StockLock) => {
      const tz = svc.config.timezoneOffsetMinutes;
      return {
        lockId: l.id,
        customerId: l.customerId,
        warehouseId: l.warehouseId,
        sku: l.sku,
        qty: l.qty,
        remaining: l.remaining,
        state: l.state,
        createdAt: toIsoWithOffset(l.createdAt, tz),
        expiresAt: toIsoWithOffset(l.expiresAt, tz),
      };
    };

    /** Where to lock when no warehouse is named: nearest to the customer's store, else most free units. */
    const candidates = async (customerId: string, sku: string): Promise<string[]> => {
      const free = await svc.store.freeStock([sku]);
      const store = svc.net.network.stores.find((s) => s.id === customerId);
      const whs = svc.net.warehouses.map((w) => ({
        id: w.id,
        free: free.get(w.id)?.get(sku) ?? 0,
        km: store ? svc.net.road.roadKm(store, store.regionCode, w, w.regionCode) : 0,
      }));
      return whs.sort((a, b) => (store ? a.km - b.km : b.free - a.free) || (a.id < b.id ? -1 : 1)).map((w) => w.id);
    };

    app.post<{ Body: LockCreate; Headers: { 'idempotency-key'?: string } }>(
      '/v1/locks',
      {
        schema: {
          tags: ['locks'],
          summary: 'Lock free units of a SKU for one customer until expiresAt',
          headers: Headers,
          body: LockCreate,
          response: { 200: LockView, 201: LockView, 400: ErrorBody, 409: ErrorBody, 422: ErrorBody },
        },
      },
      async (req, reply) => {
        const b = req.body;
        if (!svc.net.skuByCode.has(b.sku)) throw new DspError('DSP_UNKNOWN_SKU', `unknown SKU ${b.sku}`, [{ sku: b.sku }]);
        if (b.warehouseId !== undefined && !svc.net.warehouseById.has(b.warehouseId)) {
          throw new DspError('DSP_UNKNOWN_WAREHOUSE', `unknown warehouse ${b.warehouseId}`, [{ warehouseId: b.warehouseId }]);
        }
        const expiresAt = parseIsoWithOffset(b.expiresAt);
        if (expiresAt === null) {
          throw new DspError('DSP_BAD_TIME', `expiresAt is not ISO-8601 with an offset: ${b.expiresAt}`);
        }
        const now = svc.clock();
        if (expiresAt <= now) throw new DspError('DSP_BAD_TIME', 'expiresAt must be in the future');
        if (expiresAt - now > MAX_LOCK_MS) throw new DspError('DSP_BAD_TIME', `a lock lasts at most ${MAX_LOCK_MS / 86_400_000} days`);

        const key = req.headers['idempotency-key'];
        const id = key !== undefined ? `LCK-${key}` : `LCK-${randomUUID()}`;
        if (key !== undefined) {
          const existing = await svc.store.getLock(id);
          if (existing) return reply.status(200).send(view(existing));
        }
        const where = b.warehouseId !== undefined ? [b.warehouseId] : await candidates(b.customerId, b.sku);
        let best = { warehouseId: where[0]!, free: 0 };
        for (const warehouseId of where) {
          let r;
          try {
            r = await svc.store.createLock({ id, customerId: b.customerId, warehouseId, sku: b.sku, qty: b.qty, expiresAt });
          } catch (err) {
            // The same Idempotency-Key raced this request: answer the lock it created.
            const raced = await svc.store.getLock(id);
            if (raced) return reply.status(200).send(view(raced));
            throw err;
          }
          if (r.ok) return reply.status(201).send(view(r.lock));
          if (r.free > best.free) best = { warehouseId, free: r.free };
        }
        throw new DspError(
          'DSP_INSUFFICIENT_STOCK',
          b.warehouseId !== undefined
            ? `only ${best.free} units of ${b.sku} are free in ${b.warehouseId}; ${b.qty} asked`
            : `no warehouse has ${b.qty} free units of ${b.sku} (most: ${best.free} in ${best.warehouseId})`,
          [{ warehouseId: best.warehouseId, sku: b.sku, requested: b.qty, free: best.free }],
        );
      },
    );

    app.get<{ Params: { lockId: string } }>(
      '/v1/locks/:lockId',
      { schema: { tags: ['locks'], summary: 'A stock lock and how much of it is left', params: Params, response: { 200: LockView, 404: ErrorBody } } },
      async (req) => {
        const l = await svc.store.getLock(req.params.lockId);
        if (!l) throw new DspError('DSP_LOCK_NOT_FOUND', `no lock ${req.params.lockId}`, [{ lockId: req.params.lockId }]);
        return view(l);
      },
    );

    app.delete<{ Params: { lockId: string } }>(
      '/v1/locks/:lockId',
      {
        schema: {
          tags: ['locks'],
          summary: 'End a lock now: its remaining units return to free stock (an ended lock answers as it is)',
          params: Params,
          response: { 200: LockView, 404: ErrorBody },
        },
      },
      async (req) => {
        const l = await svc.store.releaseLock(req.params.lockId);
        if (!l) throw new DspError('DSP_LOCK_NOT_FOUND', `no lock ${req.params.lockId}`, [{ lockId: req.params.lockId }]);
        return view(l);
      },
    );
  };
