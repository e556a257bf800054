import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROUTE_ROLES, SOCKET_ROLES } from '../../src/auth/roles.js';

// docs/security.md renders the one route -> roles table; this keeps them in step.
describe('docs/security.md', () => {
  const doc = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');

  it('lists every route of src/auth/roles.ts with its roles, and nothing else', () => {
    const documented = new Map([...doc.matchAll(/^\| (GET|POST|PUT|DELETE) \| `([^`]+)` \| ([^|]+) \|$/gm)].map((m) => [`${m[1]} ${m[2]}`, m[3]!.trim()]));
    const table = new Map(Object.entries(ROUTE_ROLES).map(([k, v]) => [k, v === 'public' ? 'public' : v.join(', ')]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(table));
  });

  it('names the live map namespace and its roles', () => {
    expect(doc).toContain(`| socket.io | namespace \`/live\` | ${SOCKET_ROLES['/live'].join(', ')} |`);
  });
});
