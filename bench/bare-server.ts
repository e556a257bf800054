/**
 * The HTTP ceiling for bench/http-load.ts: a bare fastify on the same Node that parses the same
 * JSON request bodies and answers a canned response of the service's own size (a real decision
 * read from RESPONSE_FILE), with nothing else.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const canned = process.env.RESPONSE_FILE ? readFileSync(process.env.RESPONSE_FILE, 'utf8') : '{}';
const app = Fastify({ logger: false });
app.get('/healthz', async () => ({ status: 'ok' }));
app.post('/echo', async (_req, reply) => reply.type('application/json').send(canned));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
