import { parentPort } from 'node:worker_threads';
import { solvePriceLp, type PriceLp } from '../../solver/prices.js';
import { loadHighs } from '../solve/exact.js';

/**
 * The shadow prices' solver thread (src/pricing/thread.ts): solves each price LP it is sent with
 * its own HiGHS and answers the solution, or the error's message. One LP at a time: the job never
 * sends a second before the first is answered.
 */
const highs = await loadHighs();
parentPort!.on('message', (msg: { id: number; lp: PriceLp }) => {
  try {
    const sol = solvePriceLp(highs, msg.lp);
    parentPort!.postMessage({ id: msg.id, sol });
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: (err as Error).message });
  }
});
