import type { IncomingMessage } from 'node:http';
import type { Namespace, Server, Socket } from 'socket.io';
import { presentedKey, type KeyRegistry } from '../auth/keys.js';
import { SOCKET_ROLES } from '../auth/roles.js';

/** A refused handshake: socket.io hands `message` and `data` to the client's connect_error. */
function refusal(code: 'DSP_UNAUTHENTICATED' | 'DSP_FORBIDDEN', message: string): Error & { data: { code: string } } {
  return Object.assign(new Error(message), { data: { code } });
}

/**
 * Whether a handshake's Origin may open a socket: no Origin (not a browser), the origin the
 * page was served from (Origin's host equals the Host the request came to), or one of
 * ALLOWED_ORIGINS. A browser always sends Origin on a websocket or cross-origin request, so a page
 * of another site cannot ride on a dispatcher's key (cross-site websocket hijacking).
 */
export function originAllowed(headers: IncomingMessage['headers'], allowed: readonly string[]): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === headers.host;
  } catch {
    return false;
  }
}

/** The origins of ALLOWED_ORIGINS. */
export function allowedOrigins(raw: string): string[] {
  return raw
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
}

/**
 * Guards the live map's socket.io server: every namespace's handshake checks the origin, the
 * API key (handshake `auth.key`, or the X-API-Key / Authorization header) and its role
 * (SOCKET_ROLES); the main namespace `/` is closed (socket.io middleware guards only the
 * namespace it is attached to, so `/` gets its own refusal). Open sockets are re-checked every
 * `recheckMs`: a socket whose key was revoked (on any instance: the registry reads the shared
 * store at most `cacheMs` late) is sent a Goodbye and disconnected. Returns a stop function.
 */
export function guardLive(
  io: Server,
  nsp: Namespace,
  registry: KeyRegistry,
  opts: { allowedOrigins: readonly string[]; recheckMs: number; goodbye: (code: string, detail: string, which: (s: Socket) => boolean) => number; onError?: (err: unknown) => void },
): () => void {
  const roles = SOCKET_ROLES[nsp.name as keyof typeof SOCKET_ROLES];
  if (!roles) throw new Error(`namespace ${nsp.name} has no entry in SOCKET_ROLES (src/auth/roles.ts)`);
  io.of('/').use((_socket, next) => next(refusal('DSP_FORBIDDEN', 'namespace / is closed; the live map is on /live')));
  nsp.use((socket, next) => {
    const h = socket.handshake;
    if (!originAllowed(h.headers, opts.allowedOrigins)) {
      next(refusal('DSP_FORBIDDEN', `origin ${String(h.headers.origin)} may not open the live map (ALLOWED_ORIGINS)`));
      return;
    }
    const auth = h.auth as { key?: unknown } | undefined;
    const token = typeof auth?.key === 'string' && auth.key !== '' ? auth.key : presentedKey(h.headers);
    if (token === undefined) {
      next(refusal('DSP_UNAUTHENTICATED', 'the live map needs an API key with the dispatcher role (auth: { key })'));
      return;
    }
    registry.authenticate(token).then(
      (r) => {
        if (!r.ok) return next(refusal('DSP_UNAUTHENTICATED', r.reason));
        if (!r.principal.roles.some((x) => (roles as readonly string[]).includes(x))) {
          return next(refusal('DSP_FORBIDDEN', `API key ${r.principal.id} (${r.principal.roles.join(', ')}) may not open the live map; needs one of: ${roles.join(', ')}`));
        }
        (socket.data as { keyId?: string }).keyId = r.principal.id;
        next();
      },
      (err: unknown) => {
        opts.onError?.(err);
        next(refusal('DSP_UNAUTHENTICATED', 'the API key could not be checked (state store unavailable); retry'));
      },
    );
  });

  let busy = false;
  const timer = setInterval(() => {
    if (busy || nsp.sockets.size === 0) return;
    busy = true;
    const ids = new Set<string>();
    for (const s of nsp.sockets.values()) {
      const id = (s.data as { keyId?: string }).keyId;
      if (id !== undefined) ids.add(id);
    }
    void Promise.all(
      [...ids].map(async (id) => {
        // A store that does not answer keeps the sockets open: a Redis outage must not black out every map.
        const ok = await registry.stillAllowed(id, roles).catch(() => true);
        if (!ok) opts.goodbye('DSP_UNAUTHENTICATED', `API key ${id} was revoked, expired or lost its role`, (s) => (s.data as { keyId?: string }).keyId === id);
      }),
    ).finally(() => {
      busy = false;
    });
  }, opts.recheckMs);
  timer.unref();
  return () => clearInterval(timer);
}
