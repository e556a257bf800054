/**
 * The one error-code registry (design §6). Every error the API returns has a code from here,
 * an HTTP status and a description; docs/errors.md lists the same codes (kept in sync by
 * tests/errors.test.ts). Responses look like {"error":{"code","message","details"}}.
 */
export const ERRORS = {
  DSP_VALIDATION: { status: 400, describe: 'The request does not match the schema (missing field, wrong type, value out of range).' },
  DSP_BAD_JSON: { status: 400, describe: 'The body is not valid JSON.' },
  DSP_UNSUPPORTED_MEDIA_TYPE: { status: 415, describe: 'The body is not application/json.' },
  DSP_BODY_TOO_LARGE: { status: 413, describe: 'The body is larger than BODY_LIMIT_BYTES.' },
  DSP_NOT_FOUND: { status: 404, describe: 'No such route.' },
  DSP_METHOD_NOT_ALLOWED: { status: 405, describe: 'The route exists but not with this method.' },
  DSP_UNKNOWN_SKU: { status: 422, describe: 'An order line or stock item names a SKU that is not in the catalogue.' },
  DSP_UNKNOWN_WAREHOUSE: { status: 422, describe: 'A stock item or filter names a warehouse that is not in the network.' },
  DSP_DESTINATION_UNSERVED: { status: 422, describe: 'The destination lies outside every region of the network map (e.g. at sea or abroad).' },
  DSP_BAD_TIME: { status: 422, describe: 'A timestamp is not ISO-8601 with an offset, or promisedBy is not after placedAt.' },
  DSP_ORDER_NOT_FOUND: { status: 404, describe: 'No decision is stored for this orderId.' },
  DSP_IDEMPOTENCY_CONFLICT: { status: 409, describe: 'The orderId was already decided for a different request body.' },
  DSP_STOCK_BELOW_RESERVED: { status: 409, describe: 'The new on-hand quantity is below what is already reserved and locked.' },
  DSP_ORDER_NOT_CANCELLABLE: { status: 409, describe: 'The order is in a state that cannot be cancelled (e.g. committed).' },
  DSP_RESERVATION_CONFLICT: { status: 503, describe: 'Stock kept changing under concurrent orders while deciding; nothing was reserved; retry.' },
  DSP_RESERVATION_EXPIRED: { status: 409, describe: 'A shipped event names an order whose reservation expired (not shipped within RESERVATION_TTL_MINUTES); its stock was returned: allocate again.' },
  DSP_INSUFFICIENT_STOCK: { status: 409, describe: 'A stock lock asks for more units than are free in the warehouse (or in any warehouse when none is named).' },
  DSP_LOCK_NOT_FOUND: { status: 404, describe: 'No stock lock with this id.' },
  DSP_UNKNOWN_COURIER: { status: 404, describe: 'No courier with this id in the network.' },
  DSP_REPLAY_NOT_FOUND: { status: 404, describe: 'No replay job with this id on this instance (jobs live in the memory of the instance that runs them).' },
  DSP_REPLAY_NOT_READY: { status: 409, describe: 'The replay has not finished (or failed): its report does not exist yet.' },
  DSP_UNKNOWN_WMS_CODE: { status: 422, describe: 'A WMS event carries a status code that is not in data/wms/status-map.json.' },
  DSP_ORDER_NOT_SHIPPABLE: { status: 409, describe: 'A shipped event names an order that holds no reservation (cancelled, or nothing was reserved).' },
  DSP_OVERLOADED: { status: 503, describe: 'Too many decisions in flight; retry with backoff.' },
  DSP_STORE_UNAVAILABLE: { status: 503, describe: 'The state store is unreachable; nothing was reserved.' },
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
