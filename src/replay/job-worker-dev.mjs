// Loads the TypeScript job worker when the service runs from sources (tests, tsx); the built
// service starts dist/src/replay/job-worker.js directly. tsx is a development dependency only.
import { register } from 'tsx/esm/api';

register();
await import('./job-worker.ts');
