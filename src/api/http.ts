import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import AjvCompiler from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import FindMyWay from 'find-my-way';
import { DspError, ERRORS, type ErrorCode } from '../errors.js';
import { StoreUnavailableError } from '../store/types.js';
import { RETRY_AFTER_503_S } from '../ops/lifecycle.js';

/**
 * The HTTP edge of the service: request ids, and a DSP_ error body for every error it sends,
 * including those fastify and Node answer before a route runs (bad percent-encoding, path
 * parameters over the router's limit, unknown methods, oversized headers, malformed HTTP).
 */

/** The router's limit on one path parameter, characters (fastify's default, stated so the 414 can say it). */
export const MAX_PARAM_LENGTH = 100;

/** A caller's x-request-id is kept when it is this shape; anything else gets a fresh UUID. */
const REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/** The id of a request: the caller's x-request-id when well-formed (so logs join across services), else a UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** Fastify options of the HTTP edge (spread into Fastify({...}) by buildApp). */
export function httpServerOptions(): Pick<FastifyServerOptions, 'genReqId' | 'requestIdHeader' | 'frameworkErrors' | 'clientErrorHandler' | 'routerOptions' | 'schemaController'> {
  return {
    schemaController: { compilersFactory: { buildSerializer: sharedSerializers, buildValidator: boundedValidators } },
    // genReqId reads and validates the header itself; fastify's requestIdHeader would trust any value.
    requestIdHeader: false,
    genReqId: requestIdOf,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (err, req, reply) => {
      const dsp =
        err.code === 'FST_ERR_BAD_URL'
          ? new DspError('DSP_BAD_URL', 'the URL is not valid: bad percent-encoding')
          : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
            ? new DspError('DSP_URI_TOO_LONG', `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`)
            : toDspError(err);
      if (dsp.status >= 500) req.log.error({ err }, 'request failed');
      void (reply as FastifyReply).header('x-request-id', req.id).status(dsp.status).send(dsp.toJSON());
    },
    clientErrorHandler,
  };
}

/**
 * fastify's response serializer compiler (fast-json-stringify), with one compiled serializer per
 * distinct schema instead of one per route and status, shared by every app of the process. Most
 * responses are a $ref to a named component with their own description (every error status of
 * every route is `$ref: Error`); fast-json-stringify resolves the named components on each compile
 * (~16 ms each here), and compiled one by one per route and status they made app.ready() 3-4 times
 * slower (~0.2 s -> ~0.7 s on the 2-core machine; the tests build hundreds of apps). A description
 * does not change the output, so it is not part of the key; the named schemas are.
 */
const serializers = new Map<string, (doc: unknown) => string>();
/** Each distinct set of named schemas and options, numbered (keeps the cache keys short). */
const contexts = new Map<string, number>();
function sharedSerializers(...args: Parameters<ReturnType<typeof SerializerSelector>>): ReturnType<ReturnType<typeof SerializerSelector>> {
  const [externalSchemas, options] = args;
  const compile = SerializerSelector()(...args);
  const signature = JSON.stringify([externalSchemas ?? null, options ?? null]);
  if (!contexts.has(signature)) contexts.set(signature, contexts.size);
  const context = contexts.get(signature)!;
  return (route) => {
    const { description: _, ...rest } = (route.schema ?? {}) as Record<string, unknown>;
    const key = `${context}\n${JSON.stringify(rest)}`;
    let serialize = serializers.get(key);
    if (!serialize) {
      serialize = compile(route);
      serializers.set(key, serialize);
    }
    return serialize;
  };
}

/**
 * Above this many array items and object keys in a request part, an invalid one is answered with
 * its first error only, not all of them. Ajv with allErrors copies the error list each time a
 * referenced schema ($ref) fails, so the time grows with the square of the errors: 10,000 failing
 * items took 59 ms, 40,000 took 17 s, and a 240 KB body of 120,000 took 175 s of a core (measured
 * 2026-12-07 with ajv 8.20; found by the fuzz test's seed 411525782). Below the bound every error is
 * listed, as an ERP wants to fix them all at once.
 */
export const ALL_ERRORS_MAX_NODES = 10_000;

type AnyValidate = ReturnType<ReturnType<ReturnType<typeof AjvCompiler>>>;

/**
 * fastify's validator compiler (@fastify/ajv-compiler, the service's Ajv options) in two passes:
 * a request part is first checked stopping at its first error (valid parts, nearly all of them,
 * never pay more); an invalid one is then checked again listing every error, unless it is larger
 * than ALL_ERRORS_MAX_NODES (see there). The listing validators are compiled on first need.
 */
function boundedValidators(...[externalSchemas, options]: Parameters<ReturnType<typeof AjvCompiler>>): ReturnType<ReturnType<typeof AjvCompiler>> {
  const custom = options?.customOptions ?? {};
  const firstError = AjvCompiler()(externalSchemas, { ...options, customOptions: { ...custom, allErrors: false } } as typeof options);
  let listing: ReturnType<ReturnType<typeof AjvCompiler>> | undefined;
  return (route) => {
    const quick = firstError(route);
    let full: AnyValidate | undefined;
    const validate = ((data: unknown, ctx?: unknown) => {
      if (quick(data, ctx as never)) {
        validate.errors = null;
        return true;
      }
      if (custom.allErrors !== true || jsonSize(data, Infinity, ALL_ERRORS_MAX_NODES).nodes > ALL_ERRORS_MAX_NODES) {
        validate.errors = quick.errors;
        return false;
      }
      listing ??= AjvCompiler()(externalSchemas, options);
      full ??= listing(route);
      const ok = full(data, ctx as never) as boolean;
      validate.errors = ok ? null : full.errors;
      return ok;
    }) as AnyValidate;
    // fastify hands the parent object to Ajv validators (so that a root value can be coerced) when
    // the function carries Ajv's schemaEnv.
    Object.assign(validate, { schemaEnv: quick.schemaEnv, schema: quick.schema });
    return validate;
  };
}

/**
 * Node's HTTP parser rejects some requests before fastify sees them (headers over
 * --max-http-header-size, 16 KiB by default; malformed request lines; request timeouts). Node and
 * fastify would answer with bodies of their own; this writes the registry's body instead.
 */
function clientErrorHandler(this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer (https://nodejs.org/api/http.html#event-clienterror).
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    err.code === 'HPE_HEADER_OVERFLOW' ? 'DSP_HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'DSP_REQUEST_TIMEOUT' : 'DSP_BAD_REQUEST';
  const message =
    code === 'DSP_HEADERS_TOO_LARGE'
      ? 'the request headers are larger than the server accepts'
      : code === 'DSP_REQUEST_TIMEOUT'
        ? 'the request was not received in time'
        : `the request is not valid HTTP (${err.code ?? 'parse error'})`;
  this.log.debug({ err }, 'client error');
  const status = ERRORS[code].status;
  const body = JSON.stringify(new DspError(code, message).toJSON());
  // As Node's own handler: write only when no response of this connection is half sent.
  const pending = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (socket.writable && (!pending || !pending.headersSent)) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${randomUUID()}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** Fastify error codes with a registry code of their own. */
const BY_FASTIFY_CODE: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'DSP_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'DSP_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'DSP_BAD_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'DSP_BAD_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'DSP_VALIDATION',
  FST_ERR_BAD_URL: 'DSP_BAD_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'DSP_URI_TOO_LONG',
};

/** Maps every error that reaches the handler to a registry code; only real faults become 500. */
export function toDspError(err: FastifyError): DspError {
  if (err instanceof DspError) return err;
  if (err instanceof StoreUnavailableError) return new DspError('DSP_STORE_UNAVAILABLE', `state store unavailable: ${err.message}`);
  if (err.validation) {
    const details = err.validation.map((v) => ({ path: v.instancePath || '/', message: v.message, params: v.params }));
    // fastify's message already names the location ("body must have required property 'orderId'").
    return new DspError('DSP_VALIDATION', err.message, details);
  }
  const mapped = err.code ? BY_FASTIFY_CODE[err.code] : undefined;
  if (mapped) return new DspError(mapped, err.message);
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) return new DspError('DSP_BAD_JSON', `body is not valid JSON: ${err.message}`);
  if (err.statusCode === 404) return new DspError('DSP_NOT_FOUND', err.message);
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return new DspError('DSP_VALIDATION', err.message);
  return new DspError('DSP_INTERNAL', 'internal error');
}

/**
 * Error handler, not-found handler (404, or 405 with Allow when the path exists under other
 * methods) and the x-request-id echo. Call before the route plugins register: the method table
 * is collected from their routes.
 */
export function installHttpEdge(app: FastifyInstance): void {
  const methodsByUrl = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const set = methodsByUrl.get(route.url) ?? new Set<string>();
    for (const m of [route.method].flat()) set.add(m.toUpperCase());
    methodsByUrl.set(route.url, set);
  });
  // The same router fastify uses, over the same URL patterns, each stored with its methods; built
  // once all routes exist. The lookup runs only for requests no route matched.
  let paths: FindMyWay.Instance<FindMyWay.HTTPVersion.V1> | undefined;
  const allowedMethods = (url: string): string[] => {
    if (!paths) {
      paths = FindMyWay({ maxParamLength: MAX_PARAM_LENGTH });
      for (const [pattern, methods] of methodsByUrl) paths.on('GET', pattern, () => undefined, { methods: [...methods].sort() });
    }
    const q = url.indexOf('?');
    const found = paths.find('GET', q === -1 ? url : url.slice(0, q));
    return (found?.store as { methods: string[] } | undefined)?.methods ?? [];
  };

  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    void reply.header('x-request-id', req.id);
    done();
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const dsp = toDspError(err);
    if (dsp.status >= 500 && dsp.code !== 'DSP_SHUTTING_DOWN') req.log.error({ err }, 'request failed');
    // Every 503 says when to come back (429s get theirs from the rate limiter).
    if (dsp.status === 503 && !reply.hasHeader('retry-after')) void reply.header('retry-after', String(RETRY_AFTER_503_S));
    void reply.status(dsp.status).send(dsp.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    const allowed = allowedMethods(req.url);
    if (allowed.length > 0) {
      void reply
        .status(405)
        .header('allow', allowed.join(', '))
        .send(new DspError('DSP_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.url.split('?')[0]}; allowed: ${allowed.join(', ')}`, [{ allow: allowed }]).toJSON());
      return;
    }
    void reply.status(404).send(new DspError('DSP_NOT_FOUND', `no route ${req.method} ${req.url}`).toJSON());
  });
}


/** JSON bodies nest at most this deep (levels of objects and arrays); none of ours needs 10. */
export const MAX_JSON_DEPTH = 64;

/**
 * The nesting depth of a JSON value and its number of array items and object keys, walked without
 * recursion; the walk stops as soon as either passes its limit (then that figure is over it).
 */
function jsonSize(value: unknown, maxDepth: number, maxNodes: number): { depth: number; nodes: number } {
  let depth = 0;
  let nodes = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > depth) depth = d;
    const children = Array.isArray(v) ? v : Object.values(v);
    nodes += children.length;
    if (depth > maxDepth || nodes > maxNodes) break;
    for (const child of children) stack.push([child, d + 1]);
  }
  return { depth, nodes };
}

/**
 * The JSON body parser. Many HTTP clients send `Content-Type: application/json` with every request,
 * DELETE included, and no body: on DELETE and GET (whose routes take no body) the empty body is read
 * as no body. A POST or PUT with an empty JSON body stays DSP_BAD_JSON. Fastify's own parser does
 * the rest, prototype-poisoning checks included. A body nested deeper than MAX_JSON_DEPTH is refused
 * here, before any validator walks it: schema checks recurse, and 20,000 levels overflow the stack.
 */
export function installJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '' && (req.method === 'DELETE' || req.method === 'GET')) return done(null, undefined);
    parseJson(req, text, (err, value) => {
      if (err) return done(err);
      if (jsonSize(value, MAX_JSON_DEPTH, Infinity).depth > MAX_JSON_DEPTH) {
        return done(new DspError('DSP_VALIDATION', `the body nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`, [{ maxDepth: MAX_JSON_DEPTH }]));
      }
      done(null, value);
    });
  });
}
