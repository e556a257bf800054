import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/errors.js';
import { order, testApp } from '../support/app.js';

// The errors fastify and Node answer before a route runs, and request ids. The raw-socket cases
// need a real listener (app.inject does not go through Node's HTTP parser).
let app: FastifyInstance;
let port: number;
beforeAll(async () => {
  ({ app } = await testApp());
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await app.close();
});

/** Sends raw bytes and reads until the server closes the connection (or 5 s). */
function raw(request: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('timeout')));
    socket.on('close', () => {
      const [head, ...rest] = data.split('\r\n\r\n');
      const lines = head!.split('\r\n');
      const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(lines[0]!.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(request);
  });
}

const expectDsp = (r: { status: number; body: string }, code: keyof typeof ERRORS) => {
  expect(r.status).toBe(ERRORS[code].status);
  expect(JSON.parse(r.body)).toEqual({ error: { code, message: expect.any(String), details: expect.any(Array) } });
};

describe('errors before any route', () => {
  it('oversized headers: 431 DSP_HEADERS_TOO_LARGE from the clientError handler, not Node\'s bare 431', async () => {
    const r = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nx-pad: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectDsp(r, 'DSP_HEADERS_TOO_LARGE');
    expect(r.headers['content-type']).toMatch(/^application\/json/);
  });

  it('malformed HTTP: 400 DSP_BAD_REQUEST', async () => {
    expectDsp(await raw('GARBAGE\r\n\r\n'), 'DSP_BAD_REQUEST');
    expectDsp(await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), 'DSP_BAD_REQUEST');
  });

  it('bad percent-encoding: 400 DSP_BAD_URL', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/v1/orders/%E0%A4%A`);
    expectDsp({ status: r.status, body: await r.text() }, 'DSP_BAD_URL');
    expect(r.headers.get('x-request-id')).toMatch(/.+/);
  });

  it('a path parameter over 100 characters: 414 DSP_URI_TOO_LONG', async () => {
    for (const url of [`/v1/orders/${'x'.repeat(101)}`, `/v1/locks/${'y'.repeat(5_000)}`, `/v1/couriers/${'z'.repeat(101)}/quotes`]) {
      const r = await app.inject(url);
      expectDsp({ status: r.statusCode, body: r.body }, 'DSP_URI_TOO_LONG');
    }
    // 100 is still a parameter (then the route's own schema decides).
    expect((await app.inject(`/v1/orders/${'x'.repeat(100)}`)).json().error.code).toBe('DSP_VALIDATION');
  });

  it('a known path with another method: 405 DSP_METHOD_NOT_ALLOWED and Allow; an unknown path: 404', async () => {
    const r = await app.inject({ method: 'DELETE', url: '/v1/allocate' });
    expectDsp({ status: r.statusCode, body: r.body }, 'DSP_METHOD_NOT_ALLOWED');
    expect(r.headers.allow).toBe('POST');
    const locks = await app.inject({ method: 'PUT', url: '/v1/locks/LCK-1?x=1' });
    expect(locks.statusCode).toBe(405);
    expect(locks.headers.allow).toBe('DELETE, GET, HEAD');
    const quotes = await app.inject({ method: 'POST', url: '/v1/couriers/SF/quotes' });
    expect(quotes.headers.allow).toBe('GET, HEAD, PUT');
    const missing = await app.inject({ method: 'DELETE', url: '/v1/nothing' });
    expectDsp({ status: missing.statusCode, body: missing.body }, 'DSP_NOT_FOUND');
    expect(missing.headers.allow).toBeUndefined();
  });

  it('validation messages name the location once', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: { orderId: 'x' } });
    expect(r.json().error.message).toMatch(/^body must have required property 'customerId'/);
    expect(r.json().error.message).not.toContain('body body');
  });
});

describe('request ids', () => {
  it('keeps a well-formed x-request-id and echoes it; replaces a bad one with a fresh id', async () => {
    const kept = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'erp-7f3a.42:retry-1' } });
    expect(kept.headers['x-request-id']).toBe('erp-7f3a.42:retry-1');
    for (const bad of ['', 'a b', 'x'.repeat(129), 'id\u00e9', '<script>']) {
      const r = await app.inject({ url: '/healthz', headers: { 'x-request-id': bad } });
      expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    const none = await app.inject({ method: 'POST', url: '/v1/allocate', payload: order() });
    expect(none.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // Errors carry it too, 404 and framework errors included.
    expect((await app.inject({ url: '/nope', headers: { 'x-request-id': 'r-404' } })).headers['x-request-id']).toBe('r-404');
    expect((await app.inject({ url: '/v1/orders/%E0%A4%A', headers: { 'x-request-id': 'r-bad-url' } })).headers['x-request-id']).toBe('r-bad-url');
  });
});

describe('logs', () => {
  it('every log line of an allocation carries its request id and order id', async () => {
    const { PassThrough } = await import('node:stream');
    const { buildApp } = await import('../../src/app.js');
    const { loadConfig } = await import('../../src/config.js');
    const { network, TEST_AUTH_CONFIG, withKey } = await import('../support/app.js');
    const stream = new PassThrough();
    const lines: Record<string, unknown>[] = [];
    stream.on('data', (chunk: Buffer) => {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
    });
    const logged = withKey(await buildApp({ config: loadConfig({}, { solverThreads: 0, solverWarmUpRounds: 0, logLevel: 'info', ...TEST_AUTH_CONFIG }), net: network(), logStream: stream }));
    try {
      const body = order();
      const r = await logged.inject({ method: 'POST', url: '/v1/allocate', payload: body, headers: { 'x-request-id': 'req-log-1' } });
      expect(r.statusCode).toBe(200);
      await new Promise((resolve) => setImmediate(resolve));
      const mine = lines.filter((l) => l.reqId === 'req-log-1');
      expect(mine.map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
      expect(mine[1]).toMatchObject({ orderId: body.orderId, res: { statusCode: 200 } });
    } finally {
      await logged.close();
    }
  });
});
