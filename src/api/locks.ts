import { createHash, randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { parseIsoWithOffset, toIsoWithOffset } from '../domain/time.js';
import { LockCreate, LockView, ref } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import { BODY_CODES, errorResponses } from './responses.js';
import { StoreUnavailableError, type StockLock } from '../store/types.js';
import type { Services } from './services.js';

const Params = Type.Object({ lockId: Type.String({ minLength: 1, maxLength: 160, description: 'The lock id (LCK- and a random UUID).' }) });
const Headers = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^[A-Za-z0-9._:-]+$',
      description:
        'A retry with the same key and body (same customer) within IDEMPOTENCY_RETENTION_HOURS answers the lock created first instead of locking twice; the key reused by another customer or with another body answers 409 DSP_IDEMPOTENCY_CONFLICT.',
    }),
  ),
});

/** Longest lock accepted, ms: a lock is a few days ahead of a key account's order, not a stock transfer. */
const MAX_LOCK_MS = 90 * 24 * 3_600_000;

/** What a lock Idempotency-Key remembers: who used it, for which request, and the lock it made. */
interface LockKeyRecord {
  customerId: string;
  /** SHA-256 of the request's fields (bodyHash). */
  bodyHash: string;
  lockId: string;
}

/** SHA-256 of a lock request, field by field (so the key order of the JSON does not matter). */
function bodyHash(b: LockCreate): string {
  return createHash('sha256')
    .update(JSON.stringify([b.customerId, b.sku, b.qty, b.warehouseId ?? null, b.expiresAt]))
    .digest('hex');
}

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
          operationId: 'createLock',
          tags: ['locks'],
          summary: 'Lock free units of a SKU for one customer until expiresAt',
          headers: Headers,
          body: ref(LockCreate),
          response: {
            200: ref(LockView, 'A retry with the same Idempotency-Key: the lock created first.'),
            201: ref(LockView, 'The lock, created.'),
            ...errorResponses(...BODY_CODES, 'DSP_UNKNOWN_SKU', 'DSP_UNKNOWN_WAREHOUSE', 'DSP_BAD_TIME', 'DSP_INSUFFICIENT_STOCK', 'DSP_IDEMPOTENCY_CONFLICT', 'DSP_STORE_UNAVAILABLE'),
          },
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

        // Lock ids are random, never derived from the caller's key: an id names one lock and cannot
        // be guessed from anything another client knows.
        let id = `LCK-${randomUUID()}`;
        const key = req.headers['idempotency-key'];
        // The key is claimed before anything is locked, with the customer, the request and the
        // lock id it stands for. A retry (or a concurrent twin) under the key works on that same
        // lock id, and the store makes one lock per id: so one key locks at most once, even when
        // the first attempt's answer was lost.
        const claimed = key === undefined ? undefined : `lock:${key}`;
        if (claimed !== undefined) {
          const mine: LockKeyRecord = { customerId: b.customerId, bodyHash: bodyHash(b), lockId: id };
          const claim = await svc.store.claimIdempotency<LockKeyRecord>(claimed, mine, svc.config.idempotencyRetentionHours * 3_600_000);
          if (!claim.created) {
            const first = claim.value;
            // Never say whose key it is: the other customer's lock stays theirs.
            if (first.customerId !== mine.customerId) {
              throw new DspError('DSP_IDEMPOTENCY_CONFLICT', `Idempotency-Key ${key} was used by another customer; use a key of your own`, [{ idempotencyKey: key }]);
            }
            if (first.bodyHash !== mine.bodyHash) {
              throw new DspError('DSP_IDEMPOTENCY_CONFLICT', `Idempotency-Key ${key} was used for a different lock request`, [{ idempotencyKey: key }]);
            }
            id = first.lockId;
          }
        }
        const made = async () => (claimed !== undefined ? await svc.store.getLock(id) : null);
        const already = await made();
        if (already) return reply.status(200).send(view(already));
        const where = b.warehouseId !== undefined ? [b.warehouseId] : await candidates(b.customerId, b.sku);
        let best = { warehouseId: where[0]!, free: 0 };
        for (const warehouseId of where) {
          let r;
          try {
            r = await svc.store.createLock({ id, customerId: b.customerId, warehouseId, sku: b.sku, qty: b.qty, expiresAt });
          } catch (err) {
            // A twin under the same key made the lock first: answer it (or, while the twin is
            // still writing it, ask for a retry).
            if (claimed === undefined || err instanceof StoreUnavailableError) throw err;
            const raced = await made();
            if (raced) return reply.status(200).send(view(raced));
            throw new DspError('DSP_IDEMPOTENCY_CONFLICT', `a request with Idempotency-Key ${key} is still being processed; retry shortly`, [{ idempotencyKey: key }]);
          }
          if (r.ok) return reply.status(201).send(view(r.lock));
          if (r.free > best.free) best = { warehouseId, free: r.free };
        }
        if (claimed !== undefined) {
          // Short of stock, perhaps because a twin locked it: then answer its lock; else nothing
          // was locked and the key is given back, so the same request may be sent again later.
          const raced = await made();
          if (raced) return reply.status(200).send(view(raced));
          await svc.store.dropIdempotency(claimed);
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
      {
        schema: {
          operationId: 'getLock',
          tags: ['locks'],
          summary: 'A stock lock and how much of it is left',
          params: Params,
          response: { 200: ref(LockView, 'The lock.'), ...errorResponses('DSP_VALIDATION', 'DSP_LOCK_NOT_FOUND', 'DSP_STORE_UNAVAILABLE') },
        },
      },
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
          operationId: 'releaseLock',
          tags: ['locks'],
          summary: 'End a lock now: its remaining units return to free stock (an ended lock answers as it is)',
          params: Params,
          response: { 200: ref(LockView, 'The lock, ended.'), ...errorResponses('DSP_VALIDATION', 'DSP_BAD_JSON', 'DSP_UNSUPPORTED_MEDIA_TYPE', 'DSP_BODY_TOO_LARGE', 'DSP_LOCK_NOT_FOUND', 'DSP_STORE_UNAVAILABLE') },
        },
      },
      async (req) => {
        const l = await svc.store.releaseLock(req.params.lockId);
        if (!l) throw new DspError('DSP_LOCK_NOT_FOUND', `no lock ${req.params.lockId}`, [{ lockId: req.params.lockId }]);
        return view(l);
      },
    );
  };
