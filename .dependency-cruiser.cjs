/**
 * Layering rules, checked by `npm run lint` (dependency-cruiser). A module may import from its own
 * layer or from layers below it, never from a layer above; solver/ is pure: no I/O, nothing from
 * src/. The layers, bottom to top (docs/architecture.md draws them):
 *
 *   solver      the optimisation core: problem in, plan out
 *   foundation  src/domain, src/util, src/errors.ts, src/config.ts
 *   infra       src/geo, src/network, src/store, src/solve (state, data, solver threads)
 *   core        src/allocate, src/couriers, src/tracking, src/outbox, src/rules, src/pricing (the decision pipeline
 *               and its neighbours; src/rules: the business rules, which the allocator runs)
 *   root        src/services.ts (the composition root: builds the core on the infra)
 *   edges       src/api, src/live, src/replay, src/demo (HTTP resources, live map, replays, demo),
 *               src/auth, src/http, src/ops (API keys, security headers, lifecycle), src/client
 *   entries     src/app.ts, src/main.ts, src/replay/cli.ts, src/replay/job-worker.ts (and its
 *               dev loader), src/live/standalone.ts (processes and the HTTP service)
 */
const LAYERS = [
  { name: 'solver', path: '^solver/' },
  { name: 'foundation', path: '^src/(domain|util|proto)/|^src/(errors|config)\\.ts$' },
  { name: 'infra', path: '^src/(geo|network|store|solve)/' },
  { name: 'core', path: '^src/(allocate|couriers|tracking|outbox|rules|pricing)/' },
  { name: 'root', path: '^src/services\\.ts$' },
  { name: 'edges', path: '^src/(api|live|replay|demo|auth|http|ops|client)/' },
  { name: 'entries', path: '^src/(app|main)\\.ts$|^src/replay/(cli|job-worker|job-worker-dev)\\.(ts|mjs)$|^src/live/standalone\\.ts$' },
];

/** Everything at or above a layer. */
const above = (i) => LAYERS.slice(i + 1).map((l) => l.path);

const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `no-upward-import-from-${layer.name}`,
  comment: `${layer.name} may not import from a layer above it (${LAYERS.slice(i + 1).map((l) => l.name).join(', ')})`,
  severity: 'error',
  from: { path: layer.path, pathNot: LAYERS.slice(i + 1).map((l) => l.path) },
  to: { path: above(i) },
}));

/** Node's modules that do I/O, spawn or wait: none of them belongs in the pure solver. */
const IO_MODULES = [
  'fs', 'fs/promises', 'net', 'http', 'https', 'http2', 'dgram', 'dns', 'tls', 'child_process', 'cluster', 'worker_threads',
  'readline', 'repl', 'os', 'process', 'inspector', 'v8', 'vm', 'stream', 'zlib', 'timers', 'timers/promises', 'url', 'module',
];

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'solver-is-pure-no-io',
      comment: 'solver/ does no I/O: no Node module that reads, writes, spawns or waits',
      severity: 'error',
      from: { path: '^solver/' },
      to: { dependencyTypes: ['core'], path: `^(node:)?(${IO_MODULES.join('|')})$` },
    },
    {
      name: 'solver-is-pure-packages',
      comment: 'solver/ uses only computation packages (the MIP backends and a heap)',
      severity: 'error',
      from: { path: '^solver/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg'], pathNot: '^node_modules/(highs|javascript-lp-solver|tinyqueue)/' },
    },
    {
      name: 'no-circular-across-folders',
      comment: 'two folders that import each other are one room or a missing interface',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { circular: true, path: '^src/', pathNot: '^src/$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(tests|bench|web|data|dist|coverage)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.mjs', '.json'] },
  },
};
