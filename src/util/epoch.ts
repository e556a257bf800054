/**
 * Now, in epoch milliseconds with sub-millisecond precision, on a clock every thread shares:
 * performance.now() alone counts from each thread's own start, so a deadline handed to a worker
 * thread is expressed on this clock instead.
 */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}
