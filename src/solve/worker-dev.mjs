// Loads the TypeScript worker when the service runs from sources (tests, tsx); the built service
// loads dist/src/solve/worker.js directly. tsx is a development dependency only.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./worker.ts');
export default mod.default;
