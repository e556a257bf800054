import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { toIsoWithOffset } from '../domain/time.js';
import { ref } from '../domain/schemas.js';
import type { OutboundAction } from '../domain/actions.js';
import { ACTION_CODE } from '../domain/webhooks.js';
import { DspError } from '../errors.js';
import { idempotencyKey } from '../outbox/outbox.js';
import { OUTBOX_STATES, type OutboxEntry } from '../store/types.js';
import { BODY_CODES, errorResponses } from './responses.js';
import type { Services } from './services.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const State = Type.Union(OUTBOX_STATES.map((s) => Type.Literal(s)), { description: 'pending: waiting for its next attempt; delivered; dead: no attempts left (replay it).' });

const EntryView = Type.Object(
  {
    id: Type.String({ description: 'The delivery id (OBX-…): one per action and webhook target; sent as X-Dispatchd-Delivery.' }),
    target: Type.String({ description: 'The webhook target (WEBHOOKS name).' }),
    idempotencyKey: Type.String({ description: 'orderId:code:discriminator, sent as Idempotency-Key: receivers dedupe by it.' }),
    orderId: Type.String(),
    code: Type.String({ description: 'The action code (e.g. CORE_RETURN_TASK).' }),
    discriminator: Type.String({ description: "What tells two actions of one code on one order apart (e.g. a SKU); '' when one per order." }),
    params: Type.Object({}, { additionalProperties: true, description: 'The action parameters as the rule set them.' }),
    source: Type.Object(
      { ruleset: Type.String(), version: Type.Integer(), rule: Type.String() },
      { additionalProperties: false, description: 'The rule that fired the action.' },
    ),
    decidedAt: Type.String({ description: 'When the decision that fired it was taken, ISO-8601 with offset.' }),
    state: State,
    attempts: Type.Integer({ minimum: 0, description: 'Attempts made since it was enqueued (or last replayed).' }),
    replays: Type.Integer({ minimum: 0, description: 'Times it was replayed.' }),
    createdAt: Type.String({ description: 'Enqueued, ISO-8601 with offset.' }),
    nextAttemptAt: Nullable(Type.String({ description: 'Pending: not tried again before this time (backoff); null otherwise.' })),
    lastAttemptAt: Nullable(Type.String({ description: 'The last attempt, ISO-8601 with offset; null before the first.' })),
    lastError: Nullable(Type.String({ description: "Why the last attempt failed (the receiver's status and answer, a timeout, a network error); null after a success." })),
    deliveredAt: Nullable(Type.String({ description: 'When a receiver answered 2xx; null unless delivered.' })),
  },
  { $id: 'OutboxEntry', additionalProperties: false, description: 'One action for one webhook target, and how its delivery stands.' },
);
const EntryList = Type.Object(
  {
    items: Type.Array(ref(EntryView)),
    next: Nullable(Type.String({ description: 'Pass as cursor for the next page; null at the end. A page may hold fewer than limit entries before the end.' })),
  },
  { $id: 'OutboxList', additionalProperties: false, description: 'A page of outbox entries, oldest first.' },
);
const ListQuery = Type.Object(
  {
    state: Type.Optional(State),
    orderId: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: "Only this order's entries." })),
    code: Type.Optional(Type.String({ pattern: ACTION_CODE.source, description: 'Only this action code.' })),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{15}:[A-Za-z0-9-]{1,64}$', description: 'The previous page\'s next.' })),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$', description: `Entries per page, 1-${200}; default 50.` })),
  },
  { additionalProperties: false },
);
const Params = Type.Object({ entryId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$', description: 'The delivery id (OBX-…).' }) });

/** The outbox API's named schemas (src/api/openapi.ts registers them). */
export const OUTBOX_COMPONENTS = [EntryView, EntryList];

const LIMIT_MAX = 200;
const LIMIT_DEFAULT = 50;

/**
 * The action outbox (docs/outbox.md): GET /v1/outbox (filter by state, order and code; paged),
 * GET /v1/outbox/{entryId}, POST /v1/outbox/{entryId}/replay (send a delivered or dead entry again). Entries
 * live in the shared store, so every instance answers the same; a replay is delivered by whichever
 * instance claims it first.
 */
export const outboxRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    const tz = svc.config.timezoneOffsetMinutes;
    const iso = (ms: number | null) => (ms === null ? null : toIsoWithOffset(ms, tz));
    const view = (e: OutboxEntry): Static<typeof EntryView> => {
      const a = JSON.parse(e.action) as OutboundAction;
      return {
        id: e.id,
        target: e.target,
        idempotencyKey: idempotencyKey(e),
        orderId: e.orderId,
        code: e.code,
        discriminator: e.discriminator,
        params: a.params,
        source: a.source,
        decidedAt: toIsoWithOffset(a.decidedAtMs, tz),
        state: e.state,
        attempts: e.attempts,
        replays: e.replays,
        createdAt: toIsoWithOffset(e.createdAt, tz),
        nextAttemptAt: e.state === 'pending' ? iso(e.nextAttemptAt) : null,
        lastAttemptAt: iso(e.lastAttemptAt),
        lastError: e.lastError,
        deliveredAt: iso(e.deliveredAt),
      };
    };
    const notFound = (id: string) => new DspError('DSP_OUTBOX_NOT_FOUND', `no outbox entry ${id}`, [{ entryId: id }]);

    app.get<{ Querystring: Static<typeof ListQuery> }>(
      '/v1/outbox',
      {
        schema: {
          operationId: 'listOutbox',
          tags: ['outbox'],
          summary: 'Outbox entries (actions per webhook target), oldest first, filtered by state, order or code',
          querystring: ListQuery,
          response: { 200: ref(EntryList, 'A page of entries.'), ...errorResponses('DSP_VALIDATION', 'DSP_STORE_UNAVAILABLE') },
        },
      },
      async (req) => {
        const { state, orderId, code, cursor } = req.query;
        const limit = req.query.limit !== undefined ? Number(req.query.limit) : LIMIT_DEFAULT;
        if (limit > LIMIT_MAX) throw new DspError('DSP_VALIDATION', `limit must be at most ${LIMIT_MAX}`, [{ field: 'limit', max: LIMIT_MAX }]);
        const page = await svc.outbox.list({ ...(state ? { state } : {}), ...(orderId ? { orderId } : {}), ...(code ? { code } : {}) }, cursor ?? null, limit);
        return { items: page.items.map(view), next: page.next };
      },
    );

    app.get<{ Params: Static<typeof Params> }>(
      '/v1/outbox/:entryId',
      {
        schema: {
          operationId: 'getOutboxEntry',
          tags: ['outbox'],
          summary: 'One outbox entry: the action, its target and how its delivery stands',
          params: Params,
          response: { 200: ref(EntryView, 'The entry.'), ...errorResponses('DSP_VALIDATION', 'DSP_OUTBOX_NOT_FOUND', 'DSP_STORE_UNAVAILABLE') },
        },
      },
      async (req) => {
        const e = await svc.outbox.get(req.params.entryId);
        if (!e) throw notFound(req.params.entryId);
        return view(e);
      },
    );

    app.post<{ Params: Static<typeof Params> }>(
      '/v1/outbox/:entryId/replay',
      {
        schema: {
          operationId: 'replayOutboxEntry',
          tags: ['outbox'],
          summary: 'Deliver a delivered or dead entry again (same Idempotency-Key; attempts start from 0)',
          params: Params,
          response: {
            200: ref(EntryView, 'The entry, pending again and due now.'),
            ...errorResponses(...BODY_CODES, 'DSP_OUTBOX_NOT_FOUND', 'DSP_OUTBOX_NOT_REPLAYABLE', 'DSP_STORE_UNAVAILABLE'),
          },
        },
      },
      async (req) => {
        const r = await svc.outbox.replay(req.params.entryId);
        if (!r) throw notFound(req.params.entryId);
        if (!r.replayed) {
          throw new DspError('DSP_OUTBOX_NOT_REPLAYABLE', `outbox entry ${req.params.entryId} is pending: it is delivered by itself (next attempt ${iso(r.entry.nextAttemptAt) ?? 'now'})`, [{ entryId: req.params.entryId, state: r.entry.state }]);
        }
        req.log.info({ delivery: r.entry.id, by: req.dspKey?.id }, 'outbox entry replayed');
        return view(r.entry);
      },
    );
  };
