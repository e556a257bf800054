import { createHmac } from 'node:crypto';
import type { WebhookTarget } from '../domain/webhooks.js';

/**
 * One HTTP delivery of the outbox: a POST of the action as JSON, signed, with the idempotency key
 * receivers dedupe by. What a receiver sees is documented in docs/outbox.md; the headers are
 * named here once.
 */
export const HEADERS = {
  /** `orderId:code:discriminator`, the same on every attempt and replay of one action. */
  idempotencyKey: 'idempotency-key',
  /** `sha256=` and the hex HMAC-SHA256 of the exact body bytes under the target's secret. */
  signature: 'x-dispatchd-signature',
  /** The outbox entry id (one per action and target). */
  delivery: 'x-dispatchd-delivery',
  /** 1 for the first attempt, then 2, 3, … (from 1 again after a replay). */
  attempt: 'x-dispatchd-attempt',
} as const;

/** The body's signature as the header carries it. Receivers compute the same over the bytes they received. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * The idempotency key as a header value: header values are bytes of printable ASCII, so any
 * other character (a Chinese discriminator, a space) is percent-encoded as UTF-8; `%` itself too,
 * so the encoding cannot be confused with a key that holds a literal escape.
 */
export function idempotencyHeader(key: string): string {
  return key.replace(/[^\x21-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c).replace(/[!'()*]/g, (x) => `%${x.charCodeAt(0).toString(16).toUpperCase()}`));
}

/** Longest part of a receiver's error answer kept as the attempt's error, characters. */
const ERROR_TEXT_MAX = 200;

/**
 * POSTs `body` to the target and says how it went: null when the receiver answered 2xx, else
 * why not (its status and the start of its answer, no answer within `timeoutMs`, or the network
 * error). Redirects are not followed: a webhook that moved is a configuration to fix, and
 * following one would send the signed body somewhere nobody configured.
 */
export async function post(target: WebhookTarget, body: string, headers: Record<string, string>, timeoutMs: number): Promise<string | null> {
  try {
    const res = await fetch(target.url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'user-agent': 'dispatchd-outbox', [HEADERS.signature]: signBody(target.secret, body), ...headers },
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel();
      return null;
    }
    const text = (await res.text().catch(() => '')).slice(0, ERROR_TEXT_MAX).replace(/\s+/g, ' ').trim();
    return `HTTP ${res.status}${text !== '' ? `: ${text}` : ''}`;
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
    const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
    return `request failed: ${cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err))}`;
  }
}
