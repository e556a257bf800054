import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * docker-compose.yml and deploy/haproxy.cfg, checked without a Docker engine (none runs here):
 * the compose file parsed as YAML (merge keys resolved, as Compose does) and held to what the
 * README says about it; the balancer's configuration checked by HAProxy itself (`haproxy -c`,
 * installed by .ci/run).
 */
const root = new URL('../../', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');
const run = promisify(execFile);

interface Service {
  build?: string;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  depends_on?: Record<string, unknown> | string[];
  stop_grace_period?: string;
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
  const s = compose.services;
  const instances = Object.keys(s).filter((n) => n.startsWith('dispatchd-'));

  it('runs two dispatchd instances built from this repository on one Redis, without the demo, reachable only through the balancer', () => {
    expect(instances).toEqual(['dispatchd-1', 'dispatchd-2']);
    for (const n of instances) {
      const svc = s[n]!;
      expect(svc.build, n).toBe('.');
      expect(svc.environment, n).toMatchObject({ HOST: '0.0.0.0', REDIS_URL: 'redis://redis:6379', DEMO_FEED: 'off' });
      // Keys from the environment of `docker compose up`, never from the file.
      expect(svc.environment!.API_KEYS, n).toMatch(/^\$\{DSP_API_KEYS:\?/);
      expect(svc.ports, n).toBeUndefined();
      expect(svc.depends_on, n).toMatchObject({ redis: { condition: 'service_healthy' } });
      // Compose's stop timeout outlasts the service's own grace, so the service ends itself.
      expect(Number(svc.stop_grace_period!.replace(/s$/, '')) * 1000).toBeGreaterThan(Number(svc.environment!.SHUTDOWN_GRACE_MS));
    }
  });

  it('keeps Redis append-only and never evicting', () => {
    const cmd = s.redis!.command!.join(' ');
    expect(cmd).toContain('--appendonly yes');
    expect(cmd).toContain('--maxmemory-policy noeviction');
    expect(s.redis!.volumes!.some((v) => v.endsWith(':/data'))).toBe(true);
  });

  it('publishes the balancer, configured by deploy/haproxy.cfg, which checks readiness on every instance', () => {
    expect(s.lb!.ports).toEqual(['8080:8080']);
    expect(s.lb!.volumes).toContain('./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro');
    const cfg = read('deploy/haproxy.cfg');
    for (const n of instances) expect(cfg).toMatch(new RegExp(`^\\s*server ${n} ${n}:${s[n]!.environment!.PORT}\\b`, 'm'));
    expect(cfg).toMatch(/http-check send meth GET uri \/readyz/);
    expect(cfg).toMatch(/default-server check/);
  });

  it('deploy/haproxy.cfg is valid for HAProxy (haproxy -c)', async () => {
    const { stdout, stderr } = await run('haproxy', ['-c', '-f', new URL('deploy/haproxy.cfg', root).pathname]);
    expect(`${stdout}${stderr}`).toContain('Configuration file is valid');
  });

  it('the image runs a supported Node LTS and listens on every interface', () => {
    const dockerfile = read('Dockerfile');
    const froms = [...dockerfile.matchAll(/^FROM node:(\d+)-/gm)].map((m) => Number(m[1]));
    expect(froms.length).toBeGreaterThan(0);
    for (const v of froms) expect([22, 24]).toContain(v);
    expect(dockerfile).toMatch(/ENV .*HOST=0\.0\.0\.0/);
    expect(dockerfile).toMatch(/DEMO_FEED=off/);
  });
});
