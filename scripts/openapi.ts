/**
 * The served OpenAPI document, for tools:
 *   tsx scripts/openapi.ts dump <file>   writes it (JSON)
 *   tsx scripts/openapi.ts lint          lints it with @redocly/cli (redocly.yaml); part of npm run lint
 *   tsx scripts/openapi.ts types         regenerates src/client/schema.d.ts (npm run openapi:types)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientTypes, servedDocument } from '../tests/support/openapi.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const [command, arg] = process.argv.slice(2);
const doc = await servedDocument();

if (command === 'dump' && arg) {
  writeFileSync(arg, JSON.stringify(doc, null, 2) + '\n');
} else if (command === 'types') {
  const out = join(root, 'src/client/schema.d.ts');
  writeFileSync(out, await clientTypes(doc));
  console.log(`wrote ${out}`);
} else if (command === 'lint') {
  const dir = mkdtempSync(join(tmpdir(), 'dsp-openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
    const r = spawnSync(join(root, 'node_modules/.bin/redocly'), ['lint', file, '--config', join(root, 'redocly.yaml'), '--format', 'stylish'], {
      stdio: 'inherit',
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    process.exitCode = r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  console.error('usage: tsx scripts/openapi.ts dump <file> | lint | types');
  process.exitCode = 2;
}
