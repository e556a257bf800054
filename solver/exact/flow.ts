/**
 * A minimum-cost flow on real capacities (successive shortest paths, Dijkstra with potentials and
 * early exit at the sink), used for the lower bounds of the exact search. Small graphs (hundreds of edges); the topology is built once per
 * solve and capacities are reset per call.
 */
import { Carve } from './carve.js';
import { EXACT_TUNING } from './tuning.js';

export class FlowGraph {
  /** Per edge (forward at even index, reverse at odd): head, capacity, cost. */
  head: number[] = [];
  cap: number[] = [];
  cost: number[] = [];
  /** The capacity each forward edge is reset to. */
  baseCap: number[] = [];
  /** Adjacency: first edge per node and next edge per edge. */
  first: number[] = [];
  next: number[] = [];
  nodes = 0;

  addNode(): number {
    this.first.push(-1);
    return this.nodes++;
  }

  /** Adds a directed edge; returns its index (even). */
  addEdge(from: number, to: number, cap: number, cost: number): number {
    const e = this.head.length;
    this.head.push(to, from);
    this.cap.push(cap, 0);
    this.baseCap.push(cap, 0);
    this.cost.push(cost, -cost);
    this.next.push(this.first[from]!, this.first[to]!);
    this.first[from] = e;
    this.first[to] = e + 1;
    return e;
  }
}

/** Supply left or residual capacity (kg) that counts as none. */
const CAP_EPS = 1e-9;

/**
 * Min-cost flow of `supply` units from `src` to `snk`. Capacities start from the graph's
 * (`reset`) and are switched per call (`setCap`). Every cost must be non-negative and a path of
 * unbounded capacity must exist (the backorder edges), so all supply is routed. `run` returns the
 * total cost. (It was checked against a plain Bellman-Ford implementation: docs/solver.md.)
 */
export class MinCostFlow {
  private readonly cap: Float64Array;
  private readonly dist: Float64Array;
  /** Augmenting paths used by the last run. */
  lastAug = 0;
  private readonly done: Uint8Array;
  private readonly pot: Float64Array;
  private readonly heapNode: Int32Array;
  private readonly heapKey: Float64Array;
  private readonly prevEdge: Int32Array;
  private readonly head: Int32Array;
  private readonly cost: Float64Array;
  private readonly first: Int32Array;
  private readonly next: Int32Array;

  constructor(private readonly g: FlowGraph) {
    const nE = g.head.length;
    const nN = g.nodes;
    // One buffer for all (solver/exact/carve.ts).
    const c = new Carve(3 * nE + 2 * nN + 1, 3 * nE + 2 * nN + 1, nN);
    this.cap = c.f64(nE);
    this.dist = c.f64(nN);
    this.done = c.u8(nN);
    this.pot = c.f64(nN);
    this.heapNode = c.i32(nE + 1);
    this.heapKey = c.f64(nE + 1);
    this.prevEdge = c.i32(nN);
    this.head = c.i32(nE);
    this.head.set(g.head);
    this.cost = c.f64(nE);
    this.cost.set(g.cost);
    this.first = c.i32(nN);
    this.first.set(g.first);
    this.next = c.i32(nE);
    this.next.set(g.next);
  }

  /** Capacities are set by the caller through `setCap` after `reset`. */
  reset(): void {
    const base = this.g.baseCap;
    for (let e = 0; e < base.length; e++) this.cap[e] = base[e]!;
  }

  setCap(edge: number, cap: number): void {
    this.cap[edge] = cap;
  }

  /** Flow on edge e after `run` (forward edges only). */
  flowOn(edge: number): number {
    return this.cap[edge ^ 1]!;
  }

  /** Routes all supply; throws FlowDeadline once performance.now() passes `deadline` (checked every 4 paths). */
  run(src: number, snk: number, supply: number, deadline = Infinity): number {
    const { cap, dist, prevEdge, head, cost, first, next, pot, heapNode, heapKey } = this;
    const nNodes = this.g.nodes;
    pot.fill(0);
    let left = supply;
    let total = 0;
    let guard = 0;
    while (left > CAP_EPS) {
      if (guard++ > EXACT_TUNING.flowMaxPaths) throw new FlowFailure('min-cost flow did not converge');
      if ((guard & 3) === 0 && performance.now() > deadline) throw new FlowDeadline();
      // Dijkstra on reduced costs (non-negative up to rounding, clamped at zero).
      dist.fill(Infinity);
      this.done.fill(0);
      dist[src] = 0;
      let hn = 0;
      heapNode[hn] = src;
      heapKey[hn++] = 0;
      while (hn > 0) {
        // Pop the minimum.
        const u = heapNode[0]!;
        const du = heapKey[0]!;
        hn--;
        if (hn > 0) {
          const ln = heapNode[hn]!;
          const lk = heapKey[hn]!;
          let i = 0;
          for (;;) {
            let c = 2 * i + 1;
            if (c >= hn) break;
            if (c + 1 < hn && heapKey[c + 1]! < heapKey[c]!) c++;
            if (heapKey[c]! >= lk) break;
            heapNode[i] = heapNode[c]!;
            heapKey[i] = heapKey[c]!;
            i = c;
          }
          heapNode[i] = ln;
          heapKey[i] = lk;
        }
        if (this.done[u] || du > dist[u]!) continue;
        this.done[u] = 1;
        // Early exit: nodes not settled yet are at least as far as the sink (potentials below use min(dist, dist[sink])).
        if (u === snk) break;
        const pu = pot[u]!;
        for (let e = first[u]!; e >= 0; e = next[e]!) {
          if (cap[e]! <= CAP_EPS) continue;
          const v = head[e]!;
          if (this.done[v]) continue;
          let rc = cost[e]! + pu - pot[v]!;
          if (rc < 0) rc = 0;
          const nd = du + rc;
          if (nd < dist[v]!) {
            dist[v] = nd;
            prevEdge[v] = e;
            // Push.
            if (hn >= heapNode.length) throw new FlowFailure('heap overflow');
            let i = hn++;
            while (i > 0) {
              const par = (i - 1) >> 1;
              if (heapKey[par]! <= nd) break;
              heapNode[i] = heapNode[par]!;
              heapKey[i] = heapKey[par]!;
              i = par;
            }
            heapNode[i] = v;
            heapKey[i] = nd;
          }
        }
      }
      const dt = dist[snk]!;
      if (dt === Infinity) throw new FlowFailure('min-cost flow: sink unreachable');
      for (let v = 0; v < nNodes; v++) pot[v] = pot[v]! + (dist[v]! < dt ? dist[v]! : dt);
      let f = left;
      for (let v = snk; v !== src; ) {
        const e = prevEdge[v]!;
        if (cap[e]! < f) f = cap[e]!;
        v = head[e ^ 1]!;
      }
      let pathCost = 0;
      for (let v = snk; v !== src; ) {
        const e = prevEdge[v]!;
        cap[e] = cap[e]! - f;
        cap[e ^ 1] = cap[e ^ 1]! + f;
        pathCost += cost[e]!;
        v = head[e ^ 1]!;
      }
      left -= f;
      total += f * pathCost;
    }
    this.lastAug = guard;
    return total;
  }
}

/** The flow could not be computed reliably (never expected); the search gives up. */
export class FlowFailure extends Error {
  override name = 'FlowFailure';
}

/** The deadline passed during a flow computation. */
export class FlowDeadline extends Error {
  override name = 'FlowDeadline';
}
