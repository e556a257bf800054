import type { TSchema } from '@sinclair/typebox';
import { ErrorBody, ref } from '../domain/schemas.js';
import { ERRORS, type ErrorCode } from '../errors.js';

/**
 * Error responses of an operation in the OpenAPI document: one entry per HTTP status, each the
 * error body, described by the registry codes the operation may answer with that status; and a
 * `default` for the HTTP layer's codes, which any operation may answer (tests/api/fuzz.test.ts
 * checks every error answered against this).
 */

/** Codes of the HTTP layer (src/api/http.ts) and of faults: any operation, documented under `default`. */
export const EDGE_CODES = ['DSP_BAD_URL', 'DSP_URI_TOO_LONG', 'DSP_HEADERS_TOO_LARGE', 'DSP_BAD_REQUEST', 'DSP_REQUEST_TIMEOUT', 'DSP_INTERNAL'] as const satisfies readonly ErrorCode[];

/** Codes of any operation that takes a JSON body. */
export const BODY_CODES = ['DSP_VALIDATION', 'DSP_BAD_JSON', 'DSP_BODY_TOO_LARGE', 'DSP_UNSUPPORTED_MEDIA_TYPE'] as const satisfies readonly ErrorCode[];

const line = (c: ErrorCode) => `- \`${c}\`: ${ERRORS[c].describe}`;

export function errorResponses(...codes: ErrorCode[]): Record<string, TSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of new Set(codes)) byStatus.set(ERRORS[c].status, [...(byStatus.get(ERRORS[c].status) ?? []), c]);
  const out: Record<string, TSchema> = {};
  for (const [status, cs] of [...byStatus].sort((a, b) => a[0] - b[0])) out[String(status)] = ref(ErrorBody, cs.map(line).join('\n'));
  out.default = ref(ErrorBody, `Any other error, as the error body with its code:\n${EDGE_CODES.map((c) => `- ${ERRORS[c].status} ${line(c).slice(2)}`).join('\n')}`);
  return out;
}
