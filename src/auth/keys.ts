import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { KEY_NAME, KEY_SECRET, ROLES, type ConfiguredKey, type Role } from '../config.js';
import { storeKeys } from '../store/keys.js';
import type { Store } from '../store/types.js';

/**
 * API keys, kept in the state store (so every instance on the same Redis sees the same keys) over
 * its kvGet/kvSet/listPush/listAll. A key is `<id>.<secret>`: the id says which record to read, the
 * record holds the SHA-256 of the secret (never the secret), compared in constant time.
 *
 * Each instance trusts what it read of a key for `cacheMs` at most (AUTH_CACHE_MS), so a revocation
 * on any instance is refused by every instance within that bound, without a message bus. The live
 * map re-checks the keys of its open sockets as often (src/live/auth.ts).
 */

export type KeySource = 'api' | 'config' | 'demo';

export interface ApiKeyRecord {
  id: string;
  /** A label for people (the ERP, "Prometheus", …); for configured and demo keys, the id. */
  name: string;
  roles: Role[];
  /** Hex SHA-256 of the secret. */
  hash: string;
  source: KeySource;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms when revoked; null while not. */
  revokedAt: number | null;
  /** Epoch ms after which the key is refused (set by a rotation with a grace period); null = never. */
  expiresAt: number | null;
  /** The key that replaced this one (rotation). */
  rotatedTo: string | null;
}

/** Who a request is: the key's id, name and roles. */
export interface Principal {
  id: string;
  name: string;
  roles: Role[];
}

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: string };

const TOKEN = /^([a-z0-9][a-z0-9-]{0,39})\.([A-Za-z0-9_-]{32,128})$/;

/** SHA-256 of a secret, as stored. A secret is 32+ random bytes, so a fast hash is enough (no password stretching needed). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** 32 random bytes, base64url (43 characters, 256 bits). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** The key a request presents: `X-API-Key: <key>` or `Authorization: Bearer <key>` (what Prometheus sends). */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const x = headers['x-api-key'];
  if (typeof x === 'string' && x !== '') return x.trim();
  const auth = headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim();
  return undefined;
}

/** Whether a record lets requests through at `now`. */
function live(r: ApiKeyRecord, now: number): boolean {
  return r.revokedAt === null && (r.expiresAt === null || now < r.expiresAt);
}

/** The public view of a record (no hash). */
export function keyView(r: ApiKeyRecord): Omit<ApiKeyRecord, 'hash'> {
  const { hash: _hash, ...rest } = r;
  return rest;
}

export class KeyRegistry {
  private readonly cache = new Map<string, { at: number; rec: Promise<ApiKeyRecord | null>; refreshing?: boolean }>();
  private readonly cacheMs: number;
  private readonly clock: () => number;
  /** Compared against when the id is unknown, so that a miss costs the same as a wrong secret. */
  private readonly decoy = Buffer.alloc(32);

  constructor(
    private readonly store: Store,
    opts: { cacheMs: number; clock?: () => number },
  ) {
    this.cacheMs = opts.cacheMs;
    this.clock = opts.clock ?? Date.now;
  }

  /** The record of a key id, read through the bounded cache (`fresh`: bypass it). */
  async record(id: string, fresh = false): Promise<ApiKeyRecord | null> {
    const now = Date.now();
    const hit = this.cache.get(id);
    if (!fresh && hit && now - hit.at < this.cacheMs) {
      // Past half its life an entry is re-read in the background, so that a key in steady use is
      // never read on a request's path (a burst would otherwise wait on one read). Its age counts
      // from when the read was sent, which keeps the bound.
      if (now - hit.at >= this.cacheMs / 2 && !hit.refreshing) {
        hit.refreshing = true;
        const next = this.store.kvGet<ApiKeyRecord>(storeKeys.apiKey(id));
        next.then(
          () => this.cache.set(id, { at: now, rec: next }),
          () => {
            hit.refreshing = false;
          },
        );
      }
      return hit.rec;
    }
    const rec = this.store.kvGet<ApiKeyRecord>(storeKeys.apiKey(id));
    if (this.cacheMs > 0) {
      // Concurrent requests with the same key share one read; a failed read is not kept.
      this.cache.set(id, { at: now, rec });
      rec.catch(() => this.cache.delete(id));
      if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    }
    return rec;
  }

  /** Checks a presented key: its record exists, is neither revoked nor expired, and the secret's hash matches. */
  async authenticate(token: string): Promise<AuthResult> {
    const m = TOKEN.exec(token);
    if (!m) return { ok: false, reason: 'the API key is malformed (expected <id>.<secret>)' };
    const [, id, secret] = m as unknown as [string, string, string];
    const rec = await this.record(id);
    const given = createHash('sha256').update(secret).digest();
    const stored = rec ? Buffer.from(rec.hash, 'hex') : this.decoy;
    const same = stored.length === given.length && timingSafeEqual(stored, given);
    if (!rec || !same) return { ok: false, reason: 'unknown API key' };
    if (!live(rec, this.clock())) return { ok: false, reason: `API key ${id} was ${rec.revokedAt !== null ? 'revoked' : 'rotated and has expired'}` };
    return { ok: true, principal: { id: rec.id, name: rec.name, roles: rec.roles } };
  }

  /** Whether key `id` still holds one of `roles` (open sockets are re-checked with this). */
  async stillAllowed(id: string, roles: readonly Role[]): Promise<boolean> {
    const rec = await this.record(id);
    return rec !== null && live(rec, this.clock()) && rec.roles.some((r) => roles.includes(r));
  }

  /** Every key (revoked ones too), oldest first, without hashes. */
  async list(): Promise<ApiKeyRecord[]> {
    const ids = [...new Set(await this.store.listAll<string>(storeKeys.apiKeyIndex))];
    const recs = await Promise.all(ids.map((id) => this.store.kvGet<ApiKeyRecord>(storeKeys.apiKey(id))));
    return recs.filter((r): r is ApiKeyRecord => r !== null).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /** Creates a key; returns its record and the key to hand over (the only time the secret is seen). */
  async create(opts: { name: string; roles: Role[]; source?: KeySource; id?: string; secret?: string }): Promise<{ record: ApiKeyRecord; key: string }> {
    const id = opts.id ?? `k-${randomBytes(6).toString('hex')}`;
    const secret = opts.secret ?? newSecret();
    if (!KEY_NAME.test(id)) throw new Error(`key id ${id} must match ${KEY_NAME.source}`);
    if (!KEY_SECRET.test(secret)) throw new Error('a key secret must be 32-128 characters of A-Z a-z 0-9 _ -');
    const roles = ROLES.filter((r) => opts.roles.includes(r));
    const record: ApiKeyRecord = {
      id,
      name: opts.name,
      roles,
      hash: hashSecret(secret),
      source: opts.source ?? 'api',
      createdAt: this.clock(),
      revokedAt: null,
      expiresAt: null,
      rotatedTo: null,
    };
    const existed = (await this.store.kvGet<ApiKeyRecord>(storeKeys.apiKey(id))) !== null;
    await this.store.kvSet(storeKeys.apiKey(id), record);
    if (!existed) await this.store.listPush(storeKeys.apiKeyIndex, id);
    this.cache.delete(id);
    return { record, key: `${id}.${secret}` };
  }

  /** Revokes a key now; null when no such key. Revoking twice keeps the first time. */
  async revoke(id: string): Promise<ApiKeyRecord | null> {
    const rec = await this.store.kvGet<ApiKeyRecord>(storeKeys.apiKey(id));
    if (!rec) return null;
    if (rec.revokedAt !== null) return rec;
    const next = { ...rec, revokedAt: this.clock() };
    await this.store.kvSet(storeKeys.apiKey(id), next);
    this.cache.delete(id);
    return next;
  }

  /**
   * Rotates a key: a new key with the same name and roles; the old one keeps working for
   * `graceMs` (0 = refused at once), so a client can switch without a gap. Null when no such key
   * or when it is revoked.
   */
  async rotate(id: string, graceMs: number): Promise<{ record: ApiKeyRecord; key: string; old: ApiKeyRecord } | null> {
    const rec = await this.store.kvGet<ApiKeyRecord>(storeKeys.apiKey(id));
    if (!rec || !live(rec, this.clock())) return null;
    const fresh = await this.create({ name: rec.name, roles: rec.roles, source: 'api' });
    const now = this.clock();
    const old: ApiKeyRecord = graceMs > 0 ? { ...rec, expiresAt: now + graceMs, rotatedTo: fresh.record.id } : { ...rec, revokedAt: now, rotatedTo: fresh.record.id };
    await this.store.kvSet(storeKeys.apiKey(id), old);
    this.cache.delete(id);
    return { ...fresh, old };
  }

  /**
   * Writes the keys of API_KEYS (id = name). A configured key whose secret is unchanged keeps its
   * record, so one revoked through the API stays revoked across restarts until its secret changes.
   */
  async loadConfigured(keys: readonly ConfiguredKey[]): Promise<{ written: string[]; keptRevoked: string[] }> {
    const written: string[] = [];
    const keptRevoked: string[] = [];
    for (const k of keys) {
      const rec = await this.store.kvGet<ApiKeyRecord>(storeKeys.apiKey(k.name));
      const sameRoles = rec !== null && rec.roles.length === k.roles.length && k.roles.every((r) => rec.roles.includes(r));
      if (rec && rec.hash === hashSecret(k.secret) && sameRoles) {
        if (!live(rec, this.clock())) keptRevoked.push(k.name);
        continue;
      }
      await this.create({ id: k.name, name: k.name, roles: k.roles, secret: k.secret, source: 'config' });
      written.push(k.name);
    }
    return { written, keptRevoked };
  }

  /** Demo mode: one key per role (ids demo-<role>), with new secrets at every start. */
  async createDemoKeys(): Promise<Record<Role, string>> {
    const out = {} as Record<Role, string>;
    for (const role of ROLES) out[role] = (await this.create({ id: `demo-${role}`, name: `demo-${role}`, roles: [role], source: 'demo' })).key;
    return out;
  }
}
