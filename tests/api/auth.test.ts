import { MemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/types.js';
import { authCases } from './auth.cases.js';

// The embedded store: the "second instance" shares the first one's store object (one process).
let last: Store | undefined;
authCases('embedded store', async (net, shared) => {
  if (shared && last) return last;
  last = new MemoryStore(net.network.stock);
  return last;
});
