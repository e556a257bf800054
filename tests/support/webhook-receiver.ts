import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';

/** One request as the receiver saw it. */
export interface Received {
  /** The path it was POSTed to (one per webhook target in the tests). */
  path: string;
  headers: IncomingHttpHeaders;
  /** The exact body bytes, as text. */
  body: string;
  /** Whether X-Dispatchd-Signature is the HMAC-SHA256 of those bytes under the path's secret. */
  signed: boolean;
  /** What the receiver answered. */
  status: number;
}

export interface ReceiverOptions {
  /** The secret of each path (the target's WEBHOOKS secret), to check signatures. */
  secrets: Record<string, string>;
  /**
   * How to answer a request, given how many times its Idempotency-Key came before (0 on the first):
   * a status code. By default 200.
   */
  answer?: (key: string, seenBefore: number, path: string) => number;
}

/**
 * A real webhook receiver for the outbox tests: node:http on a free loopback port. It answers as
 * told, records every request, and does what a receiver is asked to do (docs/outbox.md): check
 * the signature, and process each Idempotency-Key once, however often it arrives.
 */
export async function startReceiver(opts: ReceiverOptions) {
  const received: Received[] = [];
  const seen = new Map<string, number>();
  /** Idempotency-Key -> body, the first time a request with that key was answered 2xx (the "processed" actions). */
  const processed = new Map<string, string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const path = req.url ?? '/';
      const key = String(req.headers['idempotency-key'] ?? '');
      const before = seen.get(key) ?? 0;
      seen.set(key, before + 1);
      const status = opts.answer?.(key, before, path) ?? 200;
      const signed = verify(opts.secrets[path], raw, req.headers['x-dispatchd-signature']);
      received.push({ path, headers: req.headers, body: raw.toString('utf8'), signed, status });
      if (status >= 200 && status < 300 && signed && !processed.has(key)) processed.set(key, raw.toString('utf8'));
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 300 ? `refused on purpose (${before + 1})` : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    received,
    processed,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The receiver's own check of a signature (what docs/outbox.md tells receivers to do). */
export function verify(secret: string | undefined, body: Buffer, header: string | string[] | undefined): boolean {
  if (secret === undefined || typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  const got = Buffer.from(header.slice('sha256='.length), 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** Waits until `done()` holds, polling; fails with `what` after `ms` (a bound for a hung test, not a timing assertion). */
export async function until(done: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await done())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
