import { MemoryStore } from '../../src/store/memory.js';
import { storeCases } from './store.cases.js';

storeCases('memory', async (rows, clock) => new MemoryStore(rows, { clock }));
