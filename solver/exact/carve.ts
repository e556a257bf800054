/**
 * Typed arrays carved out of one buffer (Float64 first, then Int32, then Uint8, each aligned). A
 * typed array of more than 64 bytes gets its own off-heap buffer, which is slow to allocate and
 * to collect (docs/solver.md has the measurement); the Lagrangian relaxation
 * (solver/exact/lagrange.ts) needs some sixty of them per instance, scratch included, the flow
 * relaxation (solver/exact/index.ts, solver/exact/flow.ts) some fifteen: a view of a shared
 * buffer costs far less.
 * Every element starts at 0.
 */
export class Carve {
  private readonly F: Float64Array;
  private readonly I: Int32Array;
  private readonly U: Uint8Array;
  private f = 0;
  private i = 0;
  private u = 0;
  constructor(nF: number, nI: number, nU: number) {
    const buf = new ArrayBuffer(8 * nF + 4 * nI + nU);
    this.F = new Float64Array(buf, 0, nF);
    this.I = new Int32Array(buf, 8 * nF, nI);
    this.U = new Uint8Array(buf, 8 * nF + 4 * nI, nU);
  }
  f64(n: number): Float64Array {
    if (this.f + n > this.F.length) throw new Error('Carve: Float64 space exhausted');
    return this.F.subarray(this.f, (this.f += n));
  }
  i32(n: number): Int32Array {
    if (this.i + n > this.I.length) throw new Error('Carve: Int32 space exhausted');
    return this.I.subarray(this.i, (this.i += n));
  }
  u8(n: number): Uint8Array {
    if (this.u + n > this.U.length) throw new Error('Carve: Uint8 space exhausted');
    return this.U.subarray(this.u, (this.u += n));
  }
}
