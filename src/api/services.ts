/** What the route plugins share: the composition root's services (src/services.ts), handed to each explicitly. */
export type { Services } from '../services.js';
