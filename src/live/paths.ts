import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root (the directory holding dispatchd's package.json), found by walking up from
 * this module: the same code runs from src/live (tsx, tests) and from dist/src/live (npm start).
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'dispatchd') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('live: cannot find the dispatchd package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Where the live stream's files live, all under the package root. */
export function livePaths(root = packageRoot()) {
  return {
    root,
    /** The one schema file of the stream (read at run time by the server and the browser). */
    proto: join(root, 'src', 'proto', 'dispatchd.proto'),
    web: join(root, 'web'),
    maplibre: join(root, 'node_modules', 'maplibre-gl', 'dist'),
    protobufjs: join(root, 'node_modules', 'protobufjs', 'dist'),
  };
}
