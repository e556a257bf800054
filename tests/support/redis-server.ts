import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

const run = promisify(execFile);

/** A free TCP port on loopback, chosen by the OS. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisProcess {
  url: string;
  port: number;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop: () => Promise<void>;
  /** Kills the server at once (SIGKILL), as a crash would. */
  kill: () => Promise<void>;
  /** Starts it again on the same port and directory (the append-only file brings the data back when `persist`). */
  restart: () => Promise<void>;
  /** Freezes the server (SIGSTOP): its sockets stay open, nothing answers, as a stalled host. */
  freeze: () => void;
  /** Lets a frozen server run on (SIGCONT): it then serves what its sockets received meanwhile. */
  thaw: () => void;
}

async function waitForPing(port: number): Promise<void> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined); // refused while the server starts: retried below
  for (let i = 0; ; i++) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (e) {
      if (i > 200) throw new Error(`redis-server did not start on ${port}: ${String(e)}`);
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  probe.disconnect();
}

/**
 * A real redis-server of the test's own on a free loopback port, so tests never touch the
 * machine's shared Redis. `.ci/run` installs Debian's redis-server if missing. Nothing is
 * persisted unless `persist` (then an fsync-always append-only file in a temporary directory,
 * so that a killed server restarts with its data, like a production node).
 */
export async function startRedis(opts: { persist?: boolean; extraArgs?: string[] } = {}): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'dsp-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push(...(opts.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']), ...(opts.extraArgs ?? []));
  let proc: ChildProcess;
  const launch = async () => {
    proc = spawn('redis-server', args, { stdio: 'ignore' });
    await waitForPing(port);
  };
  const exit = async (signal: NodeJS.Signals) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await exit('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => exit('SIGKILL'),
    restart: launch,
    freeze: () => void proc.kill('SIGSTOP'),
    thaw: () => void proc.kill('SIGCONT'),
  };
}

/**
 * A 3-master Redis Cluster of the test's own: three `redis-server --cluster-enabled yes` on free
 * ports, joined by `redis-cli --cluster create`, ready when every node reports cluster_state:ok.
 */
export async function startRedisCluster(
  masters = 3,
  extraArgs: string[] = [],
): Promise<{ nodes: { host: string; port: number }[]; servers: RedisProcess[]; stop: () => Promise<void> }> {
  const servers: RedisProcess[] = [];
  for (let i = 0; i < masters; i++) servers.push(await startRedis({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '5000', ...extraArgs] }));
  const nodes = servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
  await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
  for (const n of nodes) {
    for (let i = 0; ; i++) {
      const { stdout } = await run('redis-cli', ['-p', String(n.port), 'cluster', 'info']);
      if (stdout.includes('cluster_state:ok')) break;
      if (i > 200) throw new Error(`cluster node ${n.port} not ok: ${stdout}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { nodes, servers, stop: async () => void (await Promise.all(servers.map((s) => s.stop()))) };
}

/** An ioredis Cluster client on the given nodes, connected (slots known), as the service builds one. */
export async function clusterClient(nodes: { host: string; port: number }[]): Promise<Cluster> {
  const c = new Cluster(nodes, { enableAutoPipelining: true, redisOptions: { maxRetriesPerRequest: 1 } });
  c.on('error', () => undefined);
  await new Promise((resolve) => c.once('ready', resolve));
  return c;
}

/**
 * How long the helpers below give a server (or a Cluster) to start: a Cluster is three servers
 * and a `redis-cli --cluster create`, which takes several seconds on a slow CI machine.
 */
const START_TIMEOUT_MS = 60_000;

/** The handle useRedis() gives a test file or describe block on its own redis-server. */
export interface UsedRedis {
  /** The running server, to kill, freeze or restart it on purpose. */
  readonly server: RedisProcess;
  readonly url: string;
  /** A new ioredis client on the server, disconnected after the scope's tests. */
  client(options?: RedisOptions): Redis;
}

/** The handle useRedisCluster() gives a test file or describe block on its own Redis Cluster. */
export interface UsedRedisCluster {
  readonly nodes: { host: string; port: number }[];
  /** The Cluster's servers, in the order of `nodes`, to freeze one of them on purpose. */
  readonly servers: RedisProcess[];
  /** A new Cluster client on the nodes, connected (as clusterClient()), disconnected after the scope's tests. */
  client(): Promise<Cluster>;
}

/**
 * The server exists only once the scope's beforeAll has run; reading it earlier (while vitest
 * collects the file) is a mistake in the test, which a clear message makes easy to find.
 */
function started<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not started yet: use it inside a test or a hook, not while the file is collected`);
  return value;
}

/**
 * Starts a redis-server of the test file's (or describe block's) own before its tests and stops
 * it after, with every client opened through it. Call it where a `beforeAll` would go, and before
 * the hooks that use the server: vitest runs beforeAll hooks in the order they are registered
 * and afterAll hooks in the reverse order, so the scope's own teardown (closing apps, thawing a
 * frozen server) runs before the clients are disconnected and the server is stopped.
 */
export function useRedis(opts: { persist?: boolean; extraArgs?: string[] } = {}): UsedRedis {
  let server: RedisProcess | undefined;
  const clients: Redis[] = [];
  beforeAll(async () => {
    server = await startRedis(opts);
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    // Tests kill, stop or freeze their server on purpose. A frozen server would never act on the
    // stop signal, so it is thawed first (a no-op on a running or exited one). An exited server
    // is stopped at once, and a failure to stop one is no result of the tests, so it is ignored.
    server?.thaw();
    await server?.stop().catch(() => undefined);
  });
  return {
    get server() {
      return started(server, 'useRedis() server');
    },
    get url() {
      return started(server, 'useRedis() server').url;
    },
    client(options = {}) {
      const c = new Redis(started(server, 'useRedis() server').url, options);
      clients.push(c);
      return c;
    },
  };
}

/**
 * Starts a Redis Cluster of the test file's (or describe block's) own (see startRedisCluster)
 * before its tests and stops it after, with every client opened through it. As useRedis(), call
 * it before the hooks that use the Cluster.
 */
export function useRedisCluster(opts: { masters?: number; extraArgs?: string[] } = {}): UsedRedisCluster {
  let cluster: Awaited<ReturnType<typeof startRedisCluster>> | undefined;
  const clients: Cluster[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster(opts.masters, opts.extraArgs);
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    // As in useRedis(): a test may have frozen or stopped one of the servers on purpose.
    for (const s of cluster?.servers ?? []) s.thaw();
    await cluster?.stop().catch(() => undefined);
  });
  return {
    get nodes() {
      return started(cluster, 'useRedisCluster() Cluster').nodes;
    },
    get servers() {
      return started(cluster, 'useRedisCluster() Cluster').servers;
    },
    async client() {
      const c = await clusterClient(started(cluster, 'useRedisCluster() Cluster').nodes);
      clients.push(c);
      return c;
    },
  };
}
