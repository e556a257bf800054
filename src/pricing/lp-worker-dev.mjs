// Loads the TypeScript price-LP worker when the service runs from sources (tests, tsx); the built
// service loads dist/src/pricing/lp-worker.js directly. tsx is a development dependency only.
import { register } from 'tsx/esm/api';

register();
await import('./lp-worker.ts');
