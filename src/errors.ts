/**
 * The one error-code registry (design §6). Every error the API returns has a code from here,
 * an HTTP status and a description; docs/errors.md lists the same codes (kept in sync by
 * tests/app/errors.test.ts). Responses look like {"error":{"code","message","details"}}.
 */
export const ERRORS = {
  DSP_VALIDATION: { status: 400, describe: 'The request does not match the schema (missing field, wrong type, value out of range, JSON nested deeper than 64 levels).' },
  DSP_BAD_JSON: { status: 400, describe: 'The body is not valid JSON.' },
  DSP_UNSUPPORTED_MEDIA_TYPE: { status: 415, describe: 'The body is not application/json, or it is compressed (Content-Encoding other than identity).' },
  DSP_BODY_TOO_LARGE: { status: 413, describe: 'The body is larger than BODY_LIMIT_BYTES.' },
  DSP_UNAUTHENTICATED: { status: 401, describe: 'No API key, or a key that is unknown, malformed, revoked or expired (send X-API-Key: <id>.<secret>, docs/security.md).' },
  DSP_FORBIDDEN: { status: 403, describe: "The API key is valid but none of its roles may use this route (the route's roles: docs/security.md)." },
  DSP_RATE_LIMITED: { status: 429, describe: 'Too many requests from this API key (or, without a key, from this address) in the rate-limit window; retry after the Retry-After header (seconds).' },
  DSP_NOT_FOUND: { status: 404, describe: 'No such route, or nothing stored there yet (e.g. no quotes were pushed for the courier).' },
  DSP_METHOD_NOT_ALLOWED: { status: 405, describe: 'The path exists but not with this method; the Allow header lists the methods it has.' },
  DSP_BAD_URL: { status: 400, describe: 'The URL is not valid (bad percent-encoding).' },
  DSP_URI_TOO_LONG: { status: 414, describe: 'A path parameter is longer than 100 characters (the router\'s limit).' },
  DSP_HEADERS_TOO_LARGE: { status: 431, describe: 'The request headers are larger than the server accepts (Node\'s limit, 16 KiB by default).' },
  DSP_BAD_REQUEST: { status: 400, describe: 'The request is not valid HTTP (refused by the HTTP parser before any route).' },
  DSP_REQUEST_TIMEOUT: { status: 408, describe: 'The request did not arrive completely within the server\'s request timeout.' },
  DSP_UNKNOWN_SKU: { status: 422, describe: 'An order line or stock item names a SKU that is not in the catalogue.' },
  DSP_UNKNOWN_WAREHOUSE: { status: 422, describe: 'A stock item or filter names a warehouse that is not in the network.' },
  DSP_DESTINATION_UNSERVED: { status: 422, describe: 'The destination lies outside every region of the network map (e.g. at sea or abroad).' },
  DSP_BAD_TIME: { status: 422, describe: 'A timestamp is not ISO-8601 with an offset, or promisedBy is not after placedAt.' },
  DSP_ORDER_NOT_FOUND: { status: 404, describe: 'No decision is stored for this orderId.' },
  DSP_IDEMPOTENCY_CONFLICT: { status: 409, describe: 'The orderId was already decided for a different request body, or a lock Idempotency-Key was already used by another customer or for a different lock request.' },
  DSP_STOCK_BELOW_RESERVED: { status: 409, describe: 'The new on-hand quantity is below what is already reserved and locked.' },
  DSP_LOT_REQUIRED: { status: 422, describe: 'Stock of a shelf-life SKU (catalogue shelfLifeDays) names no lot, or a receipt or count of a new lot names no expiresOn: shelf-life stock is kept per lot with its expiry.' },
  DSP_LOT_NOT_APPLICABLE: { status: 422, describe: 'A lot or expiresOn is given for a SKU without shelf life: such stock has no lots.' },
  DSP_LOT_EXPIRY_MISMATCH: { status: 409, describe: 'The lot is already recorded in that warehouse with another expiry day: a lot keeps the expiry it was first received with.' },
  DSP_ORDER_NOT_CANCELLABLE: { status: 409, describe: 'The order is in a state that cannot be cancelled (e.g. committed).' },
  DSP_RESERVATION_CONFLICT: { status: 503, describe: 'Stock kept changing under concurrent orders while deciding; nothing was reserved; retry.' },
  DSP_RESERVATION_EXPIRED: { status: 409, describe: 'A shipped event names an order whose reservation expired (not shipped within RESERVATION_TTL_MINUTES); its stock was returned: allocate again.' },
  DSP_INSUFFICIENT_STOCK: { status: 409, describe: 'A stock lock asks for more units than are free in the warehouse (or in any warehouse when none is named).' },
  DSP_LOCK_NOT_FOUND: { status: 404, describe: 'No stock lock with this id.' },
  DSP_KEY_NOT_FOUND: { status: 404, describe: 'No API key with this id.' },
  DSP_UNKNOWN_COURIER: { status: 404, describe: 'No courier with this id in the network.' },
  DSP_REPLAY_NOT_FOUND: { status: 404, describe: 'No replay job with this id on this instance (jobs live in the memory of the instance that runs them).' },
  DSP_REPLAY_TOO_LARGE: { status: 422, describe: 'A replay job would replay more orders x policies than REPLAY_MAX_ORDER_DECISIONS allows; replay fewer days, a lower demand factor or fewer policies (or use the CLI).' },
  DSP_REPLAY_ENDED: { status: 409, describe: 'The replay job has already ended (done, failed or cancelled): there is nothing to cancel.' },
  DSP_REPLAY_NOT_READY: { status: 409, describe: 'The replay has not finished (or failed): its report does not exist yet.' },
  DSP_UNKNOWN_WMS_CODE: { status: 422, describe: 'A WMS event carries a status code that is not in data/wms/status-map.json.' },
  DSP_ORDER_NOT_SHIPPABLE: { status: 409, describe: 'A shipped event names an order that holds no reservation (cancelled, or nothing was reserved).' },
  DSP_OUTBOX_NOT_FOUND: { status: 404, describe: 'No outbox entry with this id (GET /v1/outbox lists them).' },
  DSP_OUTBOX_NOT_REPLAYABLE: { status: 409, describe: 'The outbox entry is pending: it is still being delivered by itself, so there is nothing to replay.' },
  DSP_RULESET_INVALID: { status: 422, describe: 'A ruleset draft is refused (details name each node): a node that runs code (function, custom), a node type other than decision tables, a malformed table or cell, an unknown input field or an unknown action code (docs/rules.md).' },
  DSP_RULESET_TESTS_FAILED: { status: 422, describe: "A ruleset version cannot be activated: one of the test cases stored with it does not give the expected actions (details list them); nothing was activated." },
  DSP_RULESET_NOT_FOUND: { status: 404, describe: 'No ruleset with this id, or no such version of it.' },
  DSP_RULESET_EXISTS: { status: 409, describe: 'A ruleset with this id already exists: add a draft version to it instead.' },
  DSP_RULESET_NOT_DRAFT: { status: 409, describe: 'Only a draft (a version never activated) can be edited; create a new draft from it.' },
  DSP_OVERLOADED: { status: 503, describe: 'Too many decisions in flight; retry with backoff.' },
  DSP_DECISION_PENDING: { status: 503, describe: 'The state store failed while the decision was being stored: it may have been stored, with its stock reserved. Retry with the same orderId and body to get it (or a fresh decision if it was not stored); nothing is reserved twice.' },
  DSP_STORE_UNAVAILABLE: { status: 503, describe: 'The state store is unreachable; nothing was reserved.' },
  DSP_SHUTTING_DOWN: { status: 503, describe: 'This instance is shutting down (readiness, and requests that reach it after its listener closed); retry on another instance.' },
  DSP_INTERNAL: { status: 500, describe: 'An unexpected fault in the service (a bug): never caused by input.' },
} as const satisfies Record<string, { status: number; describe: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class DspError extends Error {
  override name = 'DspError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message);
    this.status = ERRORS[code].status;
  }
  toJSON(): { error: { code: ErrorCode; message: string; details: unknown[] } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}
