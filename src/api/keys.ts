import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { keyView, type ApiKeyRecord, type KeyRegistry } from '../auth/keys.js';
import { ROLES } from '../auth/roles.js';
import { toIsoWithOffset } from '../domain/time.js';
import { ref } from '../domain/schemas.js';
import { BODY_CODES, errorResponses } from './responses.js';
import { DspError } from '../errors.js';

const Role = Type.Union(ROLES.map((r) => Type.Literal(r)));
const Nullable = (t: ReturnType<typeof Type.String>) => Type.Union([t, Type.Null()]);
const keyFields = {
  id: Type.String({ description: 'The key id: the part of the key before the dot.' }),
  name: Type.String({ description: 'Who holds the key.' }),
  roles: Type.Array(Role, { description: 'What the key may call (docs/security.md).' }),
  source: Type.Union([Type.Literal('api'), Type.Literal('config'), Type.Literal('demo')], { description: 'api: made here; config: API_KEYS; demo: made at start-up in demo mode.' }),
  createdAt: Type.String({ description: 'ISO-8601 with offset.' }),
  revokedAt: Nullable(Type.String({ description: 'ISO-8601 with offset; null while the key works.' })),
  expiresAt: Nullable(Type.String({ description: 'Set by a rotation with a grace period: refused from then on.' })),
  rotatedTo: Nullable(Type.String({ description: 'The id of the key that replaced this one.' })),
};
const KeyView = Type.Object(keyFields, { $id: 'ApiKey', description: 'An API key as the admin API shows it: never its secret.' });
const keyField = { key: Type.String({ description: 'The key to send as X-API-Key, `<id>.<secret>`. Shown once: only its SHA-256 is stored.' }) };
const NewKey = Type.Object({ ...keyFields, ...keyField }, { $id: 'NewApiKey', description: 'A key just made, with its secret (shown once).' });
const RotatedKey = Type.Object({ ...keyFields, ...keyField, previous: ref(KeyView) }, { $id: 'RotatedApiKey', description: 'The new key, with its secret (shown once), and the one it replaces.' });
const KeyList = Type.Object({ items: Type.Array(ref(KeyView)) }, { $id: 'ApiKeyList', description: 'Every API key, revoked ones too.' });
const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, description: 'Who holds the key (the ERP, a dispatcher desk, Prometheus, …).' }),
    roles: Type.Array(Role, { minItems: 1, maxItems: ROLES.length, uniqueItems: true }),
  },
  { $id: 'ApiKeyCreate', additionalProperties: false, description: 'A new API key: its holder and roles.' },
);
const RotateBody = Type.Object(
  { graceSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400, description: 'How long the old key keeps working, s; default 0 (refused at once).' })) },
  { $id: 'ApiKeyRotate', additionalProperties: false, description: 'How long the replaced key keeps working.' },
);
const Params = Type.Object({ keyId: Type.String({ minLength: 1, maxLength: 40, description: 'The key id (the part before the dot).' }) });

/** The admin API's named schemas (src/api/openapi.ts registers them). */
export const KEY_COMPONENTS = [KeyView, NewKey, RotatedKey, KeyList, CreateBody, RotateBody];

/**
 * The admin API of API keys (role admin): GET /v1/keys, POST /v1/keys, DELETE /v1/keys/{keyId}
 * (revoke), POST /v1/keys/{keyId}/rotate. Changes take effect on every instance within
 * AUTH_CACHE_MS, with no restart (src/auth/keys.ts).
 */
export const keyRoutes =
  (registry: KeyRegistry, tzOffsetMinutes: number): FastifyPluginAsync =>
  async (app) => {
    const iso = (ms: number | null) => (ms === null ? null : toIsoWithOffset(ms, tzOffsetMinutes));
    const view = (r: ApiKeyRecord) => {
      const v = keyView(r);
      return { ...v, createdAt: iso(v.createdAt)!, revokedAt: iso(v.revokedAt), expiresAt: iso(v.expiresAt) };
    };
    const notFound = (id: string) => new DspError('DSP_KEY_NOT_FOUND', `no API key ${id}`, [{ keyId: id }]);

    app.get(
      '/v1/keys',
      { schema: { operationId: 'listApiKeys', tags: ['keys'], summary: 'Every API key (revoked ones too), without secrets', response: { 200: ref(KeyList, 'The keys.'), ...errorResponses('DSP_STORE_UNAVAILABLE') } } },
      async () => ({ items: (await registry.list()).map(view) }),
    );
    app.post<{ Body: Static<typeof CreateBody> }>(
      '/v1/keys',
      {
        schema: {
          operationId: 'createApiKey',
          tags: ['keys'],
          summary: 'Create an API key; the answer holds the key, shown once',
          body: ref(CreateBody),
          response: { 201: ref(NewKey, 'The key, with its secret (shown once).'), ...errorResponses(...BODY_CODES, 'DSP_STORE_UNAVAILABLE') },
        },
      },
      async (req, reply) => {
        const { record, key } = await registry.create({ name: req.body.name, roles: req.body.roles });
        req.log.info({ keyId: record.id, roles: record.roles, by: req.dspKey?.id }, 'API key created');
        return reply.status(201).send({ ...view(record), key });
      },
    );
    app.delete<{ Params: Static<typeof Params> }>(
      '/v1/keys/:keyId',
      {
        schema: {
          operationId: 'revokeApiKey',
          tags: ['keys'],
          summary: 'Revoke an API key: refused by every instance within AUTH_CACHE_MS, its live-map sockets closed',
          params: Params,
          response: { 200: ref(KeyView, 'The key, revoked.'), ...errorResponses(...BODY_CODES, 'DSP_KEY_NOT_FOUND', 'DSP_STORE_UNAVAILABLE') },
        },
      },
      async (req) => {
        const r = await registry.revoke(req.params.keyId);
        if (!r) throw notFound(req.params.keyId);
        req.log.info({ keyId: r.id, by: req.dspKey?.id }, 'API key revoked');
        return view(r);
      },
    );
    app.post<{ Params: Static<typeof Params>; Body: Static<typeof RotateBody> }>(
      '/v1/keys/:keyId/rotate',
      {
        schema: {
          operationId: 'rotateApiKey',
          tags: ['keys'],
          summary: 'Rotate an API key: a new key with the same name and roles; the old one works for graceSeconds more',
          params: Params,
          body: ref(RotateBody),
          response: { 201: ref(RotatedKey, 'The new key (its secret shown once) and the one it replaces.'), ...errorResponses(...BODY_CODES, 'DSP_KEY_NOT_FOUND', 'DSP_STORE_UNAVAILABLE') },
        },
      },
      async (req, reply) => {
        const r = await registry.rotate(req.params.keyId, (req.body.graceSeconds ?? 0) * 1_000);
        if (!r) throw new DspError('DSP_KEY_NOT_FOUND', `no API key ${req.params.keyId} that can be rotated (unknown, revoked or expired)`, [{ keyId: req.params.keyId }]);
        req.log.info({ keyId: r.old.id, newKeyId: r.record.id, by: req.dspKey?.id }, 'API key rotated');
        return reply.status(201).send({ ...view(r.record), key: r.key, previous: view(r.old) });
      },
    );
  };
