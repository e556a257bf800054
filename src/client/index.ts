import createClient, { type ClientOptions } from 'openapi-fetch';
import type { paths } from './schema.js';

export type { components, operations, paths } from './schema.js';

/**
 * A typed client of the dispatchd HTTP API (openapi-fetch over the generated src/client/schema.d.ts):
 * paths, parameters, bodies and answers per status are checked by the compiler, e.g.
 *
 *   const api = createDispatchdClient({ baseUrl: 'http://localhost:8080' });
 *   const { data, error } = await api.POST('/v1/allocate', { body: order });
 *
 * `headers` are sent with every request (an API key, say); `fetch` replaces the global fetch.
 */
export function createDispatchdClient(options: ClientOptions = {}) {
  return createClient<paths>(options);
}

export type DispatchdClient = ReturnType<typeof createDispatchdClient>;
