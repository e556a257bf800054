import type { FastifyInstance } from 'fastify';
import { createDispatchdClient, type DispatchdClient } from '../../src/client/index.js';

/**
 * A fetch that answers through fastify's inject (no port): the typed client's requests go through
 * the real routing, validation and serialisation, as over HTTP.
 */
export function injectFetch(app: FastifyInstance): (input: Request) => Promise<Response> {
  return async (input: Request) => {
    const url = new URL(input.url);
    const body = input.body ? Buffer.from(await input.arrayBuffer()) : undefined;
    const r = await app.inject({
      method: input.method as 'GET',
      url: url.pathname + url.search,
      headers: Object.fromEntries(input.headers.entries()),
      ...(body !== undefined ? { payload: body } : {}),
    });
    const headers = new Headers();
    for (const [k, v] of Object.entries(r.headers)) {
      if (v === undefined) continue;
      for (const one of [v].flat()) headers.append(k, String(one));
    }
    // A 204 or 304 has no body (Response refuses one).
    const noBody = r.statusCode === 204 || r.statusCode === 304 || input.method === 'HEAD';
    return new Response(noBody ? null : r.rawPayload, { status: r.statusCode, headers });
  };
}

/**
 * The typed API client (src/client) over app.inject. `headers` go with every request (an API key
 * once keys exist).
 */
export function apiClient(app: FastifyInstance, headers: Record<string, string> = {}): DispatchdClient {
  return createDispatchdClient({ baseUrl: 'http://dispatchd.test', fetch: injectFetch(app), headers });
}
