import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';

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
