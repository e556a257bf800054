/**
 * A Lagrangian relaxation of the per-order model (solver/types.ts), the lower bound of the exact
 * search (solver/exact/search.ts).
 *
 * With the units of every arc written as x_a, the backorders are b_l = qty_l - Σ x_a(l), so the
 * objective is B·Q + Σ_a (unitCost_a - B)·x_a + shipment costs + split term. The constraints that
 * couple sites are relaxed with non-negative multipliers:
 *   line   Σ_{a of l} x_a <= qty_l        λ_l
 *   pool   Σ_{a of p} x_a <= qty_p        μ_p
 *   courier parcels Σ n_o <= parcelCap_c  ν_c
 *   courier kg      Σ W_o <= kgCap_c      κ_c
 * What is left decomposes by site: a site stays closed (value 0) or opens one option o with an
 * integer number of parcels n in [1, C_o] (C_o = the site's and the courier's parcel caps) and
 * units x_a in [0, min(qty_l, qty_p)] (continuous) of weight W <= n·K_o and W <= kgCap_c, at cost
 * fixed_o + (perParcel_o + ν_c)·n + Σ_a (unitCost_a - B + λ_l + μ_p + (perKg_o + κ_c)·w_a)·x_a.
 * For a fixed n this is a knapsack by weight (items by cost per kg, the order is the same for
 * every option of a site), bounded below by its Martello-Toth bound for whole units (at least
 * the continuous value); the continuous value is convex in n, so only a window of n around the
 * continuous optimum needs the whole-unit bound, the window's neighbours' continuous values
 * bounding every other n. The sites' values are combined exactly with the split term (split
 * penalty per open site beyond the first, or at most one open site without splitting).
 *
 * Line caps: the subproblem keeps, per site, Σ_{a of l at the site} x_a <= qty_l (implied by the
 * line's row, so the bound stays valid). Without it a line that reaches a site from several pools
 * (its own stock and transfers) could ship there up to qty_l from each, and the relaxation mixed
 * half of such a plan with half of another: on the demo day's slowest problems the root bound was
 * far below the optimum, and those trees took hundreds of nodes. The items of one line weigh
 * the same, so the fills stay greedy: an item of a capped line takes at most its line's units
 * left at the site (cheapest first), as one knapsack type. The caps made the demo day's trees
 * several times smaller (docs/solver.md has the measurements).
 *
 * One more relaxed row is a cut: the units shipped are at most maxUnits, the most units that fit
 * the couriers' total room lightest first (each line at most what its reachable pools hold),
 * multiplier ρ. With B = 10,000 per unit, it is what lets the bound see that a fraction of a
 * unit cannot be shipped; ρ starts at the part of the line prices all lines share.
 *
 * Any multipliers >= 0 give a valid lower bound: L = B·Q - Σ λ_l qty_l - Σ μ_p qty_p
 * - Σ ν_c parcelCap_c - Σ κ_c kgCap_c - ρ·maxUnits + (combined site values). They are improved by
 * (deflected, Polyak) subgradient steps, warm-started from the parent node's, and at the root by
 * column generation (solver/exact/search.ts).
 *
 * Speed (an evaluation is most of the search's time): the items of all sites live in flat typed
 * arrays, and each evaluation copies a site's items into its cost order (kept from the last
 * evaluation, so the insertion sort starts nearly sorted; ties by index, the same order from any
 * start) so the fills run over contiguous arrays; the instance's typed arrays, scratch included,
 * are carved out of one buffer (solver/exact/carve.ts). An ascent step may evaluate lazily: an option whose one-pass bound
 * (optionBound, the continuous minimum over real parcel counts) already reaches its site's best
 * value is not valued (most are not: the bound is tight for the great majority of options), which
 * leaves the bound, the chosen sites and the subgradient exactly as a full evaluation would.
 */
import { KG_EPS } from '../cost.js';
import type { Problem } from '../types.js';
import { Carve } from './carve.js';
import { EXACT_TUNING } from './tuning.js';

/**
 * Site states in the searches' state arrays (solver/exact/search.ts, and the flow-bounded
 * enumeration of solver/exact/index.ts); an option index >= 0 means the site is fixed to that
 * option. Closed: the site opens no option.
 */
export const CLOSED = -2;
/** Undecided: the site may open any of its allowed options, or stay closed. */
export const FREE = -1;
/** Must open, with one of its allowed options, which one not yet decided. */
export const OPEN_ANY = -3;

/**
 * Slack on a courier's kg cap, kg: a fill may take that much more than the cap, so that unit
 * weights summed in floating point to exactly the cap are not cut off by rounding.
 */
const KG_CAP_SLACK = 1e-6;
/** Bits of a capped line's items (see Lagrangian.iGrp): capped for transfer options, for direct options. */
const CAP_ALL = 1;
const CAP_DIRECT = 2;
/** An empty array (shared: even an empty typed array costs an allocation). */
const NO_VALUES = new Float64Array(0);

interface Opt {
  index: number;
  courier: number;
  fixed: number;
  perParcel: number;
  perKg: number;
  /** Parcel limit, kg; Infinity when none (one parcel whatever the weight). */
  K: number;
  /** Most parcels (site and courier caps). */
  capN: number;
  /** The courier's kg cap (Infinity when none). */
  kgCap: number;
  transfer: boolean;
}

export class Lagrangian {
  readonly nSites: number;
  readonly nOpts: number;
  private readonly opts: Opt[][];
  /** Per option index: its Opt (undefined when not usable). */
  private readonly optOf: (Opt | undefined)[];
  /** Site of each option (reduced problem's index). */
  readonly siteOf: Int32Array;
  /** Options per site (usable ones). */
  readonly optsAt: number[][];
  /** Multipliers. */
  lam: Float64Array;
  mu: Float64Array;
  nu: Float64Array;
  kap: Float64Array;
  /** Multiplier of the cut "total units shipped <= maxUnits" (one element). */
  rho: Float64Array;
  /** lam, mu, nu, kap and rho as one array (they are adjacent). */
  private readonly multipliers: Float64Array;
  /** Where `save` carves its copies, and how much of it is used. */
  private saveBuf = NO_VALUES;
  private saveAt = 0;
  private saveCopies = EXACT_TUNING.saveChunk / 2;
  /** Most units any plan can ship: lightest units first into the couriers' total room. */
  readonly maxUnits: number;
  private readonly cutLive: boolean;
  private readonly gR: Float64Array;
  /** Per option: the value of its site's subproblem when it opens (last evaluation). */
  readonly optVal: Float64Array;
  /** Per option: the parcels of that value. */
  private readonly optN: Float64Array;
  /** Per site: the best open value and its option (last evaluation), and whether it was chosen. */
  readonly openVal: Float64Array;
  readonly openOpt: Int32Array;
  readonly chosen: Uint8Array;
  /** Constant part of the last evaluation. */
  private constant = 0;
  /** Work counter: evaluations so far. */
  evals = 0;
  /**
   * The items of all sites in flat arrays, site s's at [start[s], start[s + 1]) (the order of
   * arcs): line, pool, cost, cost - B, unit weight, units, transfer.
   */
  private readonly start: Int32Array;
  private readonly iLine: Int32Array;
  private readonly iPool: Int32Array;
  private readonly iCost: Float64Array;
  private readonly iCostB: Float64Array;
  private readonly iW: Float64Array;
  private readonly iU: Float64Array;
  private readonly iTr: Uint8Array;
  /** Per item: its cost key of the last `prepare` (per kg; per unit when weightless). */
  private readonly key: Float64Array;
  /**
   * Per site: its items by key (global item indices, weightless first), kept between
   * evaluations: the multipliers move little, so the insertion sort starts nearly sorted.
   */
  private readonly ord: Int32Array;
  /** The items in `ord`'s order (position k): key, weight, units, units x weight, transfer. */
  private readonly sKey: Float64Array;
  private readonly sW: Float64Array;
  private readonly sU: Float64Array;
  private readonly sUW: Float64Array;
  private readonly sTr: Uint8Array;
  /** Per site: whether its `ord` and the items in that order (sW, sU, sUW, sTr) are set (by a first `prepare`). */
  private readonly ready: Uint8Array;
  /** Per site: its weightless items (first in `ord`), and their value (negative keys) for all / direct options. */
  private readonly nLight: Int32Array;
  /** Scratch: units per item of a greedy fill (zero between uses). */
  private readonly takes: Float64Array;
  /**
   * Line caps inside a site (see the header): per item, whether its line's items at its site can
   * together carry more than the line's quantity, for transfer options (bit CAP_ALL: all of them)
   * and for direct ones (bit CAP_DIRECT: the direct ones; most lines have one direct arc per site,
   * so direct options seldom need caps); per site, the union of its items' bits; in `ord`'s order
   * (position k), the item's line and bits. Scratch: the units of each line a fill may still take
   * at the site, valid when stamped with the fill's number (`remOf`).
   */
  private readonly iGrp: Uint8Array;
  private readonly hasGrp: Uint8Array;
  private readonly sLine: Int32Array;
  private readonly sGrp: Uint8Array;
  private readonly rem: Float64Array;
  private readonly remGen: Int32Array;
  private gen = 0;
  private readonly lightAll: Float64Array;
  private readonly lightDirect: Float64Array;
  private readonly lineQty: Float64Array;
  private readonly poolQty: Float64Array;
  private readonly courierN: Float64Array;
  private readonly courierKg: Float64Array;
  /** Which multipliers can ever be positive (a constraint that can be violated). */
  private readonly lineLive: Uint8Array;
  private readonly poolLive: Uint8Array;
  /**
   * The pools whose multiplier can ever be positive, by index: those that can bind, and those a
   * short line's start prices (until the ascent lowers them to 0). Every other pool's multiplier,
   * subgradient and direction stay 0 throughout, so the per-step loops over pools skip them (on
   * the service's problems most pools can never bind: docs/solver.md).
   */
  private readonly poolAct: Int32Array;
  private nPoolAct = 0;
  private readonly gL: Float64Array;
  private readonly gP: Float64Array;
  private readonly gN: Float64Array;
  private readonly gK: Float64Array;
  private readonly B: number;
  private readonly Q: number;

  constructor(
    private readonly p: Problem,
    usable: boolean[],
  ) {
    const nS = p.sites.length;
    this.nSites = nS;
    this.nOpts = p.options.length;
    this.B = p.backorderPenalty;
    let Q = 0;
    for (const l of p.lines) Q += l.qty;
    this.Q = Q;
    this.opts = [];
    this.optsAt = [];
    for (let s = 0; s < nS; s++) {
      this.opts.push([]);
      this.optsAt.push([]);
    }
    const nL = p.lines.length;
    const nP = p.pools.length;
    const nC = p.couriers.length;
    const nO = p.options.length;
    // The items: the arcs that can carry a unit (min(line qty, pool qty) > 0), by site, each
    // site's in arc order (a counting sort into the flat arrays; per-item objects used to cost
    // more than the arrays themselves).
    let nI = 0;
    for (const a of p.arcs) if (Math.min(p.lines[a.line]!.qty, p.pools[a.pool]!.qty) > 0) nI++;
    // Every typed array of the instance, scratch included, carved out of one buffer (see Carve).
    const c = new Carve(10 * nI + 4 * nS + 11 * nL + 6 * nP + 9 * nC + 2 * nO + 5, 4 * nI + 4 * nS + 2 + nO + nP + nL, 4 * nI + 3 * nS + nL + nP + nC + 2 * nL * nP);
    this.siteOf = c.i32(nO);
    for (let oi = 0; oi < nO; oi++) this.siteOf[oi] = p.options[oi]!.site;
    this.start = c.i32(nS + 1);
    this.iLine = c.i32(nI);
    this.iPool = c.i32(nI);
    this.iCost = c.f64(nI);
    this.iCostB = c.f64(nI);
    this.iW = c.f64(nI);
    this.iU = c.f64(nI);
    this.iTr = c.u8(nI);
    this.ord = c.i32(nI);
    const lineUse = c.f64(nL);
    const poolUse = c.f64(nP);
    {
      const at = c.i32(nS + 1);
      for (const a of p.arcs) if (Math.min(p.lines[a.line]!.qty, p.pools[a.pool]!.qty) > 0) at[a.site + 1]!++;
      for (let s = 0; s < nS; s++) at[s + 1] = at[s + 1]! + at[s]!;
      this.start.set(at);
      for (const a of p.arcs) {
        const l = p.lines[a.line]!;
        const u = Math.min(l.qty, p.pools[a.pool]!.qty);
        if (u <= 0) continue;
        const i = at[a.site]!++;
        this.iLine[i] = a.line;
        this.iPool[i] = a.pool;
        this.iCost[i] = a.unitCost;
        this.iCostB[i] = a.unitCost - this.B;
        this.iW[i] = l.unitWeightKg;
        this.iU[i] = u;
        this.iTr[i] = a.transfer ? 1 : 0;
        this.ord[i] = i;
        lineUse[a.line] = lineUse[a.line]! + u;
        poolUse[a.pool] = poolUse[a.pool]! + u;
      }
    }
    this.lineLive = c.u8(nL);
    for (let li = 0; li < nL; li++) this.lineLive[li] = lineUse[li]! > p.lines[li]!.qty ? 1 : 0;
    this.poolLive = c.u8(nP);
    for (let pi = 0; pi < nP; pi++) this.poolLive[pi] = poolUse[pi]! > p.pools[pi]!.qty ? 1 : 0;
    this.poolAct = c.i32(nP);
    this.optOf = new Array<Opt | undefined>(nO).fill(undefined);
    for (let oi = 0; oi < nO; oi++) {
      if (!usable[oi]) continue;
      const o = p.options[oi]!;
      const cr = p.couriers[o.courier]!;
      const capN = Math.min(p.sites[o.site]!.parcelCap ?? Infinity, cr.parcelCap ?? Infinity);
      const opt: Opt = {
        index: oi,
        courier: o.courier,
        fixed: o.fixedCost,
        perParcel: o.perParcel,
        perKg: o.perKg,
        K: o.parcelMaxKg ?? Infinity,
        capN: o.parcelMaxKg === null ? 1 : capN,
        kgCap: cr.kgCap ?? Infinity,
        transfer: o.transfer,
      };
      this.opts[o.site]!.push(opt);
      this.optsAt[o.site]!.push(oi);
      this.optOf[oi] = opt;
    }
    this.key = c.f64(nI);
    this.sKey = c.f64(nI);
    this.sW = c.f64(nI);
    this.sU = c.f64(nI);
    this.sUW = c.f64(nI);
    this.sTr = c.u8(nI);
    this.nLight = c.i32(nS);
    this.ready = c.u8(nS);
    this.takes = c.f64(nI);
    this.iGrp = c.u8(nI);
    this.hasGrp = c.u8(nS);
    this.sLine = c.i32(nI);
    this.sGrp = c.u8(nI);
    this.rem = c.f64(nL);
    this.remGen = c.i32(nL);
    {
      // A line's items at one site can carry more than the line's quantity when it reaches the
      // site from several pools (its own stock and transfers): cap them together.
      const all = c.f64(nL);
      const dir = c.f64(nL);
      for (let s = 0; s < nS; s++) {
        const a = this.start[s]!;
        const end = this.start[s + 1]!;
        for (let i = a; i < end; i++) {
          const l = this.iLine[i]!;
          all[l] = all[l]! + this.iU[i]!;
          if (!this.iTr[i]) dir[l] = dir[l]! + this.iU[i]!;
        }
        for (let i = a; i < end; i++) {
          const qty = p.lines[this.iLine[i]!]!.qty;
          const bits = (all[this.iLine[i]!]! > qty ? CAP_ALL : 0) | (dir[this.iLine[i]!]! > qty ? CAP_DIRECT : 0);
          this.iGrp[i] = bits;
          this.hasGrp[s] = this.hasGrp[s]! | bits;
        }
        for (let i = a; i < end; i++) all[this.iLine[i]!] = dir[this.iLine[i]!] = 0;
      }
    }
    this.lightAll = c.f64(nS);
    this.lightDirect = c.f64(nS);
    // The multipliers side by side (save() copies them at once), then the directions likewise.
    this.lam = c.f64(nL);
    this.mu = c.f64(nP);
    this.nu = c.f64(nC);
    this.kap = c.f64(nC);
    this.rho = c.f64(1);
    this.multipliers = new Float64Array(this.lam.buffer, this.lam.byteOffset, nL + nP + 2 * nC + 1);
    this.dirs = [c.f64(nL), c.f64(nP), c.f64(nC), c.f64(nC), c.f64(1)];
    this.optVal = c.f64(nO).fill(Infinity);
    this.optN = c.f64(nO);
    this.openVal = c.f64(nS).fill(Infinity);
    this.openOpt = c.i32(nS).fill(-1);
    this.chosen = c.u8(nS);
    this.lineQty = c.f64(nL);
    for (let li = 0; li < nL; li++) this.lineQty[li] = p.lines[li]!.qty;
    this.poolQty = c.f64(nP);
    for (let pi = 0; pi < nP; pi++) this.poolQty[pi] = p.pools[pi]!.qty;
    this.courierN = c.f64(nC);
    this.courierKg = c.f64(nC);
    for (let ci = 0; ci < nC; ci++) {
      this.courierN[ci] = p.couriers[ci]!.parcelCap ?? Infinity;
      this.courierKg[ci] = p.couriers[ci]!.kgCap ?? Infinity;
    }
    this.gL = c.f64(nL);
    this.gP = c.f64(nP);
    this.gN = c.f64(nC);
    this.gK = c.f64(nC);
    this.gR = c.f64(1);
    this.kgUnits = c.f64(2);
    this.gs = [this.gL, this.gP, this.gN, this.gK, this.gR];
    this.ms = [this.lam, this.mu, this.nu, this.kap, this.rho];
    // Total room over the couriers (kg cap, and parcel cap times the largest parcel of a usable option).
    const maxK = c.f64(nC);
    const anyOpt = c.u8(nC);
    for (let oi = 0; oi < nO; oi++) {
      if (!usable[oi]) continue;
      const o = p.options[oi]!;
      anyOpt[o.courier] = 1;
      maxK[o.courier] = Math.max(maxK[o.courier]!, o.parcelMaxKg ?? Infinity);
    }
    let room = 0;
    for (let ci = 0; ci < nC; ci++) {
      if (!anyOpt[ci]) continue;
      const cr = p.couriers[ci]!;
      room += Math.min(cr.kgCap ?? Infinity, cr.parcelCap === null ? Infinity : cr.parcelCap * maxK[ci]!);
    }
    // Units each line could get (its pools reachable from a site with a usable option).
    const avail = c.f64(nL);
    const seenPool = c.u8(nL * nP);
    for (let s = 0; s < nS; s++) {
      if (this.opts[s]!.length === 0) continue;
      for (let i = this.start[s]!; i < this.start[s + 1]!; i++) {
        const k = this.iLine[i]! * nP + this.iPool[i]!;
        if (seenPool[k]) continue;
        seenPool[k] = 1;
        avail[this.iLine[i]!] = avail[this.iLine[i]!]! + p.pools[this.iPool[i]!]!.qty;
      }
    }
    let totalAvail = 0;
    for (let li = 0; li < nL; li++) {
      avail[li] = Math.min(avail[li]!, p.lines[li]!.qty);
      totalAvail += avail[li]!;
    }
    let maxUnits = totalAvail;
    if (Number.isFinite(room)) {
      maxUnits = 0;
      let left = room + KG_CAP_SLACK;
      const byWeight = p.lines.map((_, li) => li).sort((a, b) => p.lines[a]!.unitWeightKg - p.lines[b]!.unitWeightKg);
      for (const li of byWeight) {
        const w = p.lines[li]!.unitWeightKg;
        const t = w > 0 ? Math.min(avail[li]!, Math.max(0, Math.floor(left / w + KG_EPS))) : avail[li]!;
        maxUnits += t;
        left -= t * w;
      }
    }
    this.maxUnits = maxUnits;
    this.cutLive = maxUnits < totalAvail;
    this.initMultipliers(c.f64(nS), c.f64(nL), c.u8(nL * nP), c.f64(nL), c.f64(nP));
    this.shiftToCut();
    for (let pi = 0; pi < nP; pi++) if (this.poolLive[pi] || this.mu[pi]! > 0) this.poolAct[this.nPoolAct++] = pi;
  }

  /**
   * A starting point: a line that can be supplied in full is priced at B less its cheapest unit
   * cost; a short line's pools are. The arguments are zeroed scratch arrays (sites, lines,
   * line x pool, lines, pools).
   */
  private initMultipliers(minRate: Float64Array, supply: Float64Array, seen: Uint8Array, cheapest: Float64Array, cheapestPool: Float64Array): void {
    const p = this.p;
    const B = this.B;
    const nP = p.pools.length;
    minRate.fill(Infinity);
    this.opts.forEach((list, s) => {
      for (const o of list) minRate[s] = Math.min(minRate[s]!, o.perKg + (Number.isFinite(o.K) ? o.perParcel / o.K : 0));
    });
    cheapest.fill(Infinity);
    cheapestPool.fill(Infinity);
    for (let s = 0; s < this.nSites; s++) {
      if (!Number.isFinite(minRate[s]!)) continue;
      for (let i = this.start[s]!; i < this.start[s + 1]!; i++) {
        const line = this.iLine[i]!;
        const pool = this.iPool[i]!;
        const key = line * nP + pool;
        if (!seen[key]) {
          seen[key] = 1;
          supply[line] = supply[line]! + this.iU[i]!;
        }
        const c = this.iCost[i]! + this.iW[i]! * minRate[s]!;
        cheapest[line] = Math.min(cheapest[line]!, c);
        cheapestPool[pool] = Math.min(cheapestPool[pool]!, c);
      }
    }
    p.lines.forEach((l, li) => {
      if (!Number.isFinite(cheapest[li]!)) return;
      if (supply[li]! >= l.qty) this.lam[li] = Math.max(0, B - cheapest[li]!);
    });
    for (let i = 0; i < this.iLine.length; i++) {
      const pool = this.iPool[i]!;
      if (supply[this.iLine[i]!]! < this.lineQty[this.iLine[i]!]! && Number.isFinite(cheapestPool[pool]!)) this.mu[pool] = Math.max(0, B - cheapestPool[pool]!);
    }
  }

  /**
   * When the unit cut is live, moves the part of the line prices that all lines share onto it:
   * the costs of arcs stay the same and the bound rises by that part times the units the cut
   * takes away.
   */
  private shiftToCut(): void {
    if (!this.cutLive) return;
    let shared = Infinity;
    for (let l = 0; l < this.lam.length; l++) if (this.lineLive[l] || this.lam[l]! > 0) shared = Math.min(shared, this.lam[l]!);
    if (!Number.isFinite(shared) || shared <= 0) return;
    for (let l = 0; l < this.lam.length; l++) this.lam[l] = Math.max(0, this.lam[l]! - shared);
    this.rho[0] = this.rho[0]! + shared;
  }

  /**
   * Copies of the multipliers (to warm-start children). lam, mu, nu, kap, rho are adjacent in one
   * buffer: one copy, five views. The copies are carved out of chunks (room for EXACT_TUNING.saveChunk
   * copies at first, then twice the last chunk's, up to saveChunkMax), not one buffer each (see
   * solver/exact/carve.ts); a chunk lives as long as any copy in it.
   */
  save(): Float64Array[] {
    const n = this.lam.length + this.mu.length + 2 * this.nu.length + 1;
    if (this.saveAt + n > this.saveBuf.length) {
      this.saveCopies = Math.min(EXACT_TUNING.saveChunkMax, 2 * this.saveCopies);
      this.saveBuf = new Float64Array(this.saveCopies * n);
      this.saveAt = 0;
    }
    const all = this.saveBuf.subarray(this.saveAt, (this.saveAt += n));
    all.set(this.multipliers);
    const out: Float64Array[] = [];
    let at = 0;
    for (const m of this.ms) {
      out.push(all.subarray(at, at + m.length));
      at += m.length;
    }
    return out;
  }

  /** Copies the multipliers into `m` (from an earlier `save`). */
  saveInto(m: Float64Array[]): void {
    m[0]!.set(this.lam);
    m[1]!.set(this.mu);
    m[2]!.set(this.nu);
    m[3]!.set(this.kap);
    m[4]!.set(this.rho);
  }

  load(m: Float64Array[]): void {
    this.lam.set(m[0]!);
    this.mu.set(m[1]!);
    this.nu.set(m[2]!);
    this.kap.set(m[3]!);
    this.rho.set(m[4]!);
  }

  /**
   * Continuous value of site s's subproblem for option o with `cap` kg of room (items by cost per
   * kg, the last one fractional).
   */
  private fillCont(s: number, o: Opt, cap: number): number {
    const sKey = this.sKey;
    const sUW = this.sUW;
    const sTr = this.sTr;
    const direct = !o.transfer;
    const alpha = o.perKg + this.kap[o.courier]!;
    let value = direct ? this.lightDirect[s]! : this.lightAll[s]!;
    let left = cap;
    const end = this.start[s + 1]!;
    const mask = direct ? CAP_DIRECT : CAP_ALL;
    const grp = (this.hasGrp[s]! & mask) !== 0;
    if (grp) this.newFill();
    const sGrp = this.sGrp;
    const rem = this.rem;
    for (let k = this.start[s]! + this.nLight[s]!; k < end; k++) {
      if (direct && sTr[k]) continue;
      const r = sKey[k]! + alpha;
      if (r >= 0 || left <= 0) break;
      let uw = sUW[k]!;
      if (grp && sGrp[k]! & mask) {
        // Its line's units left at this site (the loop ends when it is taken in part).
        const l = this.sLine[k]!;
        const u = Math.min(this.sU[k]!, this.remOf(l));
        if (u <= 0) continue;
        uw = u * this.sW[k]!;
        rem[l] = rem[l]! - u;
      }
      const kg = uw < left ? uw : left;
      value += r * kg;
      left -= kg;
    }
    return value;
  }

  /** Starts a fill: every capped line may take its whole quantity again. */
  private newFill(): void {
    if (++this.gen > 0x3fffffff) {
      this.gen = 1;
      this.remGen.fill(0);
    }
  }

  /** The units of capped line l the current fill may still take. */
  private remOf(l: number): number {
    if (this.remGen[l] !== this.gen) {
      this.remGen[l] = this.gen;
      this.rem[l] = this.lineQty[l]!;
    }
    return this.rem[l]!;
  }

  /**
   * A lower bound on the integer value (whole units) of site s's subproblem for option o with
   * `cap` kg of room, at least the continuous value: whole units by cost per kg until the first
   * type that does not fit in full (the critical type c, t units of it taken, `left` kg of room
   * remaining), then the better for the optimum of the two cases (Martello-Toth): at most t units
   * of c, the room filled at the next type's rate; or at least t + 1, the missing room freed
   * from earlier types at the rate of the last one taken.
   */
  private fillInt(s: number, o: Opt, cap: number): number {
    const sKey = this.sKey;
    const sW = this.sW;
    const sU = this.sU;
    const sTr = this.sTr;
    const direct = !o.transfer;
    const alpha = o.perKg + this.kap[o.courier]!;
    let value = direct ? this.lightDirect[s]! : this.lightAll[s]!;
    let left = cap;
    let prevRate = 0;
    let prefixKg = 0;
    const end = this.start[s + 1]!;
    const mask = direct ? CAP_DIRECT : CAP_ALL;
    const grp = (this.hasGrp[s]! & mask) !== 0;
    if (grp) this.newFill();
    const sGrp = this.sGrp;
    const sLine = this.sLine;
    const rem = this.rem;
    for (let k = this.start[s]! + this.nLight[s]!; k < end; k++) {
      if (direct && sTr[k]) continue;
      const r = sKey[k]! + alpha;
      if (r >= 0) break;
      const w = sW[k]!;
      let u = sU[k]!;
      // A capped line's item has at most the line's units left at the site (whole units: the
      // items of one line weigh the same, so they are one type, cheapest units first).
      const capped = grp && (sGrp[k]! & mask) !== 0;
      if (capped) {
        const ru = this.remOf(sLine[k]!);
        if (ru <= 0) continue;
        if (ru < u) u = ru;
      }
      const t = Math.min(u, Math.floor(left / w + KG_EPS));
      if (t > 0) {
        value += r * w * t;
        left -= t * w;
        prevRate = r;
        prefixKg += t * w;
      }
      if (t < u) {
        // The critical type: the rate of the next one (0 when none is worth taking), skipping
        // items whose line has no units left once this one is counted in full.
        let nextRate = 0;
        for (let k2 = k + 1; k2 < end; k2++) {
          if (direct && sTr[k2]) continue;
          const r2 = sKey[k2]! + alpha;
          if (r2 >= 0) break;
          if (grp && sGrp[k2]! & mask) {
            const l2 = sLine[k2]!;
            if (this.remOf(l2) - (capped && l2 === sLine[k] ? u : 0) <= 0) continue;
          }
          nextRate = r2;
          break;
        }
        const critLeft = Math.max(0, left);
        const u0 = value + critLeft * nextRate;
        const need = w - critLeft;
        const u1 = prefixKg >= need - 1e-12 ? value + r * w - need * prevRate : Infinity;
        return Math.min(u0, u1);
      }
      if (capped) rem[sLine[k]!] = rem[sLine[k]!]! - t;
    }
    return value;
  }

  /**
   * The greedy whole-unit fill of site s for option o with `cap` kg of room (as fillInt, but on
   * past the critical type), for subgradients: adds each item's units to the line and pool rows
   * of the subgradient; returns [kg, units] in `out`.
   */
  private fillTakes(s: number, o: Opt, cap: number, out: Float64Array): void {
    const sKey = this.sKey;
    const sW = this.sW;
    const sU = this.sU;
    const sTr = this.sTr;
    const ord = this.ord;
    const direct = !o.transfer;
    const alpha = o.perKg + this.kap[o.courier]!;
    const takes = this.takes;
    let left = cap;
    let kg = 0;
    let units = 0;
    const light = this.start[s]! + this.nLight[s]!;
    const end = this.start[s + 1]!;
    const mask = direct ? CAP_DIRECT : CAP_ALL;
    const grp = (this.hasGrp[s]! & mask) !== 0;
    if (grp) this.newFill();
    for (let k = this.start[s]!; k < end; k++) {
      if (direct && sTr[k]) continue;
      let u = sU[k]!;
      const capped = grp && (this.sGrp[k]! & mask) !== 0;
      if (capped) u = Math.min(u, this.remOf(this.sLine[k]!));
      let t: number;
      if (k < light) {
        if (sKey[k]! >= 0 || u <= 0) continue;
        t = u;
      } else {
        const r = sKey[k]! + alpha;
        if (r >= 0) break;
        const w = sW[k]!;
        t = Math.min(u, Math.floor(left / w + KG_EPS));
        if (t <= 0) continue;
        left -= t * w;
      }
      if (capped) this.rem[this.sLine[k]!] = this.rem[this.sLine[k]!]! - t;
      takes[ord[k]!] = t;
    }
    // Rows and totals in the items' own order.
    for (let i = this.start[s]!; i < end; i++) {
      const t = takes[i]!;
      if (t === 0) continue;
      takes[i] = 0;
      const line = this.iLine[i]!;
      const pool = this.iPool[i]!;
      this.gL[line] = this.gL[line]! + t;
      this.gP[pool] = this.gP[pool]! + t;
      kg += t * this.iW[i]!;
      units += t;
    }
    out[0] = kg;
    out[1] = units;
  }

  /**
   * The site plan behind option oi's last value (continuous units at its parcel count), as a
   * column of the Dantzig-Wolfe master: usage per line, pool, courier parcels and kg, units, and
   * its cost in the model (without the split penalty).
   */
  column(oi: number): { site: number; courier: number; n: number; kg: number; units: number; cost: number; lines: Map<number, number>; pools: Map<number, number> } {
    const s = this.siteOf[oi]!;
    const o = this.optOf[oi]!;
    const n = this.optN[oi]!;
    const cap = Number.isFinite(o.K) ? this.capFor(o, n) : o.kgCap + KG_CAP_SLACK;
    const alpha = o.perKg + this.kap[o.courier]!;
    const lines = new Map<number, number>();
    const pools = new Map<number, number>();
    let left = cap;
    let kg = 0;
    let units = 0;
    let cost = o.fixed + o.perParcel * n;
    const end = this.start[s + 1]!;
    const mask = o.transfer ? CAP_ALL : CAP_DIRECT;
    const grp = (this.hasGrp[s]! & mask) !== 0;
    if (grp) this.newFill();
    for (let k = this.start[s]!; k < end; k++) {
      if (this.sTr[k] && !o.transfer) continue;
      const i = this.ord[k]!;
      const w = this.sW[k]!;
      const capped = grp && (this.sGrp[k]! & mask) !== 0;
      const u = capped ? Math.min(this.sU[k]!, this.remOf(this.sLine[k]!)) : this.sU[k]!;
      let t: number;
      if (w <= 0) {
        if (this.sKey[k]! >= 0) continue;
        t = u;
      } else {
        if (this.sKey[k]! + alpha >= 0 || left <= 0) break;
        t = Math.min(u, left / w);
        left -= t * w;
      }
      if (t <= 0) continue;
      if (capped) this.rem[this.sLine[k]!] = this.rem[this.sLine[k]!]! - t;
      const line = this.iLine[i]!;
      const pool = this.iPool[i]!;
      lines.set(line, (lines.get(line) ?? 0) + t);
      pools.set(pool, (pools.get(pool) ?? 0) + t);
      kg += t * w;
      units += t;
      cost += (this.iCost[i]! + o.perKg * w) * t;
    }
    return { site: s, courier: o.courier, n, kg, units, cost, lines, pools };
  }

  /** Whether pool / line / cut multipliers can matter (their constraints can be violated). */
  poolIsLive(p: number): boolean {
    return this.poolLive[p] === 1;
  }

  get cutIsLive(): boolean {
    return this.cutLive;
  }

  /**
   * Per-kg cost key of each item (per unit for weightless ones, which sort first), the order (an
   * insertion sort from the last one), the items in that order, and the weightless items' values.
   */
  private prepare(s: number): void {
    const key = this.key;
    const ord = this.ord;
    const iW = this.iW;
    const lam = this.lam;
    const mu = this.mu;
    const rho = this.rho[0]!;
    const a = this.start[s]!;
    const end = this.start[s + 1]!;
    for (let i = a; i < end; i++) {
      const r = this.iCostB[i]! + lam[this.iLine[i]!]! + mu[this.iPool[i]!]! + rho;
      const w = iW[i]!;
      key[i] = w > 0 ? r / w : r;
    }
    // Insertion sort from the last order (nearly sorted already: the multipliers moved a
    // little): weightless first, each part by key, ties by index (the same order from any start).
    let moved = this.ready[s] === 0;
    for (let i = a + 1; i < end; i++) {
      const v = ord[i]!;
      const wv = iW[v]! > 0;
      const kv = key[v]!;
      let j = i - 1;
      while (j >= a) {
        const u = ord[j]!;
        const after = iW[u]! > 0 ? !wv || key[u]! > kv || (key[u] === kv && u > v) : !wv && (key[u]! > kv || (key[u] === kv && u > v));
        if (!after) break;
        ord[j + 1] = u;
        j--;
      }
      if (j + 1 !== i) {
        ord[j + 1] = v;
        moved = true;
      }
    }
    const iU = this.iU;
    const iTr = this.iTr;
    const sKey = this.sKey;
    const sW = this.sW;
    const sU = this.sU;
    const sUW = this.sUW;
    const sTr = this.sTr;
    if (!moved) {
      // The same order as this site's last prepare: the items in it are in place, only the keys
      // (and the weightless items' values, first in the order, summed in the same order) change.
      // Most evaluations (the multipliers move a little).
      for (let k = a; k < end; k++) sKey[k] = key[ord[k]!]!;
      let lightAll = 0;
      let lightDirect = 0;
      const lightEnd = a + this.nLight[s]!;
      for (let k = a; k < lightEnd; k++) {
        const kv = sKey[k]!;
        if (kv < 0) {
          const u = sU[k]!;
          lightAll += kv * u;
          if (!sTr[k]) lightDirect += kv * u;
        }
      }
      this.lightAll[s] = lightAll;
      this.lightDirect[s] = lightDirect;
      if (this.hasGrp[s]) this.lightCapped(s);
      return;
    }
    this.ready[s] = 1;
    let nLight = 0;
    let lightAll = 0;
    let lightDirect = 0;
    for (let k = a; k < end; k++) {
      const i = ord[k]!;
      const kv = key[i]!;
      const w = iW[i]!;
      const u = iU[i]!;
      const tr = iTr[i]!;
      sKey[k] = kv;
      sW[k] = w;
      sU[k] = u;
      sUW[k] = u * w;
      sTr[k] = tr;
      this.sLine[k] = this.iLine[i]!;
      this.sGrp[k] = this.iGrp[i]!;
      if (w <= 0) {
        nLight++;
        if (kv < 0) {
          lightAll += kv * u;
          if (!tr) lightDirect += kv * u;
        }
      }
    }
    this.nLight[s] = nLight;
    this.lightAll[s] = lightAll;
    this.lightDirect[s] = lightDirect;
    if (this.hasGrp[s]) this.lightCapped(s);
  }

  /** The weightless items' values at a site with capped lines: each line's cheapest units first, at most its quantity (for all, then direct options). */
  private lightCapped(s: number): void {
    const a = this.start[s]!;
    const lightEnd = a + this.nLight[s]!;
    for (let pass = 0; pass < 2; pass++) {
      const mask = pass === 0 ? CAP_ALL : CAP_DIRECT;
      this.newFill();
      let v = 0;
      for (let k = a; k < lightEnd; k++) {
        const kv = this.sKey[k]!;
        if (kv >= 0) break; // by key within the weightless items
        if (pass === 1 && this.sTr[k]) continue;
        let u = this.sU[k]!;
        if (this.sGrp[k]! & mask) {
          const l = this.sLine[k]!;
          u = Math.min(u, this.remOf(l));
          this.rem[l] = this.rem[l]! - u;
        }
        v += kv * u;
      }
      if (pass === 0) this.lightAll[s] = v;
      else this.lightDirect[s] = v;
    }
  }

  /** The whole-unit bound with n parcels; returns the better of it and `best` (recording n in optN when it wins). */
  private evalInt(s: number, o: Opt, beta: number, n: number, best: number): number {
    const v = beta * n + this.fillInt(s, o, this.capFor(o, n));
    if (v < best) {
      this.optN[o.index] = n;
      return v;
    }
    return best;
  }

  /** Room for n parcels of option o, kg. */
  private capFor(o: Opt, n: number): number {
    return Math.min(n * o.K * (1 + KG_EPS), o.kgCap + KG_CAP_SLACK);
  }

  /**
   * A lower bound on option o's best value at site s (sets optN to the parcels of the best whole-
   * unit evaluation). The continuous value g(n) = beta * n + fillCont(room(n)) is convex in n
   * with its minimum between nLo and nHi, so outside a window of n around it, g at the window's
   * neighbours bounds every n; inside, the whole-unit bound is used. The window grows while a
   * neighbour's continuous value is below the best inside it.
   */
  private optionValue(s: number, o: Opt): number {
    const beta = o.perParcel + this.nu[o.courier]!;
    if (!Number.isFinite(o.K)) {
      this.optN[o.index] = 1;
      return o.fixed + beta + this.fillInt(s, o, o.kgCap + KG_CAP_SLACK);
    }
    // The continuous optimum weight: items while their cost per kg plus beta / K stays negative.
    const sKey = this.sKey;
    const sUW = this.sUW;
    const sTr = this.sTr;
    const direct = !o.transfer;
    const alpha = o.perKg + this.kap[o.courier]! + beta / o.K;
    const kgMax = Math.min(o.kgCap, o.capN * o.K);
    let W = 0;
    const end = this.start[s + 1]!;
    const mask = direct ? CAP_DIRECT : CAP_ALL;
    const grp = (this.hasGrp[s]! & mask) !== 0;
    if (grp) this.newFill();
    for (let k = this.start[s]! + this.nLight[s]!; k < end; k++) {
      if (direct && sTr[k]) continue;
      if (sKey[k]! + alpha >= 0) break;
      if (grp && this.sGrp[k]! & mask) {
        const l = this.sLine[k]!;
        const u = Math.min(this.sU[k]!, this.remOf(l));
        this.rem[l] = this.rem[l]! - u;
        W += u * this.sW[k]!;
      } else W += sUW[k]!;
      if (W >= kgMax) break;
    }
    W = Math.min(W, kgMax);
    let a = Math.max(1, Math.min(o.capN, Math.floor(W / o.K)));
    let b = Math.max(1, Math.min(o.capN, Math.ceil(W / o.K)));
    let best = Infinity;
    for (let n = a; n <= b; n++) best = this.evalInt(s, o, beta, n, best);
    // The neighbours' continuous values (only the side that moved is recomputed).
    let cl = a > 1 ? beta * (a - 1) + this.fillCont(s, o, this.capFor(o, a - 1)) : Infinity;
    let cr = b < o.capN ? beta * (b + 1) + this.fillCont(s, o, this.capFor(o, b + 1)) : Infinity;
    for (let grow = 0; ; grow++) {
      const c = Math.min(cl, cr);
      if (c >= best) break;
      if (grow >= EXACT_TUNING.maxWindow) {
        best = c;
        break;
      }
      if (cl <= cr) {
        best = this.evalInt(s, o, beta, --a, best);
        cl = a > 1 ? beta * (a - 1) + this.fillCont(s, o, this.capFor(o, a - 1)) : Infinity;
      } else {
        best = this.evalInt(s, o, beta, ++b, best);
        cr = b < o.capN ? beta * (b + 1) + this.fillCont(s, o, this.capFor(o, b + 1)) : Infinity;
      }
    }
    return o.fixed + best;
  }

  /**
   * A cheap lower bound on optionValue(s, o): the continuous relaxation's minimum over real
   * parcel counts n in [1, C], from one pass over the items. With K' = K (1 + KG_EPS) and room
   * for the kg W <= n K', g(n) = beta n + fillCont(room(n)) is convex in n (as optionValue uses)
   * and beta n >= beta W / K' (beta >= 0): the items worth shipping at their rate plus beta / K'
   * per kg weigh W*; if W* >= K', the value of shipping them with beta W* / K' bounds every n;
   * otherwise g is smallest at n = 1: beta + fillCont(room(1)). -Infinity when it does not apply
   * (no parcel limit, where the value itself takes one pass; beta < 0; no parcel of room).
   */
  private optionBound(s: number, o: Opt): number {
    const beta = o.perParcel + this.nu[o.courier]!;
    if (!Number.isFinite(o.K) || !(beta >= 0) || !(o.capN >= 1)) return -Infinity;
    const sKey = this.sKey;
    const sUW = this.sUW;
    const sTr = this.sTr;
    const direct = !o.transfer;
    const K1 = o.K * (1 + KG_EPS);
    const capE = o.kgCap + KG_CAP_SLACK;
    const wMax = Math.min(o.capN * K1, capE);
    const gamma = beta / K1;
    const alpha = o.perKg + this.kap[o.courier]!;
    let value = direct ? this.lightDirect[s]! : this.lightAll[s]!;
    let w = 0;
    const end = this.start[s + 1]!;
    let k = this.start[s]! + this.nLight[s]!;
    const mask = direct ? CAP_DIRECT : CAP_ALL;
    const grp = (this.hasGrp[s]! & mask) !== 0;
    if (grp) this.newFill();
    const rem = this.rem;
    // A capped line's items: at most its units left at the site (see fillCont). An item taken in
    // part ends the first loop (w reaches wMax), so the second starts with `rem` up to date.
    for (; k < end; k++) {
      if (direct && sTr[k]) continue;
      const r = sKey[k]! + alpha;
      if (r + gamma >= 0 || w >= wMax) break;
      let uw = sUW[k]!;
      if (grp && this.sGrp[k]! & mask) {
        const l = this.sLine[k]!;
        const u = Math.min(this.sU[k]!, this.remOf(l));
        if (u <= 0) continue;
        uw = u * this.sW[k]!;
        rem[l] = rem[l]! - u;
      }
      const kg = uw < wMax - w ? uw : wMax - w;
      value += r * kg;
      w += kg;
    }
    if (w >= K1) return o.fixed + value + gamma * w;
    if (w >= wMax) return o.fixed + beta + value;
    // n = 1: fill on at the items' own rates up to one parcel's room.
    let left = Math.min(K1, capE) - w;
    for (; k < end; k++) {
      if (direct && sTr[k]) continue;
      const r = sKey[k]! + alpha;
      if (r >= 0 || left <= 0) break;
      let uw = sUW[k]!;
      if (grp && this.sGrp[k]! & mask) {
        const l = this.sLine[k]!;
        const u = Math.min(this.sU[k]!, this.remOf(l));
        if (u <= 0) continue;
        uw = u * this.sW[k]!;
        rem[l] = rem[l]! - u;
      }
      const kg = uw < left ? uw : left;
      value += r * kg;
      left -= kg;
    }
    return o.fixed + beta + value;
  }

  /** Test hook: optionBound and optionValue of every usable option of an open site (last prepare). */
  checkBounds(): { bound: number; value: number }[] {
    const out: { bound: number; value: number }[] = [];
    for (let s = 0; s < this.nSites; s++) {
      this.prepare(s);
      for (const o of this.opts[s]!) {
        const n = this.optN[o.index]!;
        out.push({ bound: this.optionBound(s, o), value: this.optionValue(s, o) });
        this.optN[o.index] = n;
      }
    }
    return out;
  }

  /**
   * Evaluates the relaxation with the current multipliers under `state` (per site CLOSED, FREE,
   * or a fixed option) and `allowed` (per option, for FREE sites). Returns the bound; fills
   * optVal, openVal, openOpt and chosen.
   *
   * `lazy`: an option whose cheap bound (optionBound) already reaches its site's best value so far
   * gets that bound as its optVal instead of its value: the bound, openVal, openOpt, chosen and
   * the subgradient are the same, only the other options' values are weaker (about half the
   * work). For the steps of an ascent; the evaluation it ends on must not be lazy (reduced-cost
   * fixing, branching and the heuristics read every optVal).
   */
  evaluate(state: Int32Array, allowed: Uint8Array, lazy = false): number {
    this.evals++;
    const p = this.p;
    const constant = this.multiplierConstant();
    this.constant = constant;
    for (let s = 0; s < this.nSites; s++) {
      const prev = this.openOpt[s]!;
      this.openVal[s] = Infinity;
      this.openOpt[s] = -1;
      const st = state[s]!;
      if (st === CLOSED) continue;
      this.prepare(s);
      // Lazy: the last evaluation's best option first, for a good threshold from the start.
      let first = -1;
      let firstVal = Infinity;
      if (lazy && st < 0 && prev >= 0 && allowed[prev]) {
        first = prev;
        firstVal = this.optionValue(s, this.optOf[prev]!);
      }
      for (const o of this.opts[s]!) {
        if (st >= 0 ? o.index !== st : !allowed[o.index]) {
          this.optVal[o.index] = Infinity;
          continue;
        }
        let v: number;
        if (o.index === first) v = firstVal;
        else {
          if (lazy) {
            const best = Math.min(this.openVal[s]!, firstVal);
            if (best < Infinity) {
              const lb = this.optionBound(s, o);
              // Strictly above the best (the first option at the minimum, in this order, wins).
              if (lb - 1e-9 * (1 + Math.abs(lb)) >= best) {
                this.optVal[o.index] = lb;
                continue;
              }
            }
          }
          v = this.optionValue(s, o);
        }
        this.optVal[o.index] = v;
        if (v < this.openVal[s]!) {
          this.openVal[s] = v;
          this.openOpt[s] = o.index;
        }
      }
    }
    return constant + this.combine(state, -1, 0, p.splitPenalty, p.allowSplit, true);
  }

  /** The constant part of the bound at the current multipliers: B·Q less each multiplier times its row's right-hand side. */
  private multiplierConstant(): number {
    let constant = this.B * this.Q;
    for (let l = 0; l < this.lam.length; l++) constant -= this.lam[l]! * this.lineQty[l]!;
    constant -= this.rho[0]! * this.maxUnits;
    for (let k = 0; k < this.nPoolAct; k++) {
      const q = this.poolAct[k]!;
      if (this.mu[q]! !== 0) constant -= this.mu[q]! * this.poolQty[q]!;
    }
    for (let c = 0; c < this.nu.length; c++) {
      if (this.nu[c]! !== 0) constant -= this.nu[c]! * this.courierN[c]!;
      if (this.kap[c]! !== 0) constant -= this.kap[c]! * this.courierKg[c]!;
    }
    return constant;
  }

  /**
   * A lower bound, at the current multipliers, on every plan that opens exactly the options
   * `open` (one per site; shipments may carry nothing but still pay their opening cost and split
   * penalty, as in a leaf of solver/exact/leaf.ts): the relaxation with those sites fixed to
   * those options and every other site closed. Leaves the last evaluation's values (optVal,
   * openVal, chosen, the parcel counts) as they were. -Infinity when an option is not usable.
   */
  leafBound(open: readonly number[]): number {
    if (open.length > 1 && !this.p.allowSplit) return Infinity;
    let total = this.multiplierConstant();
    for (const oi of open) {
      const o = this.optOf[oi];
      if (o === undefined) return -Infinity;
      const s = this.siteOf[oi]!;
      const n = this.optN[oi]!;
      this.prepare(s);
      total += this.optionValue(s, o);
      this.optN[oi] = n;
    }
    return total + this.p.splitPenalty * Math.max(0, open.length - 1);
  }

  /**
   * The combined site values, with site `force` (if >= 0) overridden: forceVal = Infinity closes
   * it, a finite value opens it at that value. Marks the chosen sites when `mark`.
   */
  combine(state: Int32Array, force: number, forceVal: number, sp: number, split: boolean, mark: boolean): number {
    const nS = this.nSites;
    if (mark) this.chosen.fill(0);
    if (!split) {
      // At most one open site.
      let forcedSite = -1;
      let nForced = 0;
      let bestSite = -1;
      let bestVal = 0;
      for (let s = 0; s < nS; s++) {
        const st = state[s]!;
        if (st === CLOSED && s !== force) continue;
        const mustOpen = s === force ? Number.isFinite(forceVal) : st >= 0 || st === OPEN_ANY;
        const v = s === force ? (Number.isFinite(forceVal) ? forceVal : Infinity) : this.openVal[s]!;
        if (mustOpen) {
          nForced++;
          forcedSite = s;
          bestVal = v;
        } else if (nForced === 0 && v < bestVal) {
          bestVal = v;
          bestSite = s;
        }
      }
      if (nForced > 1) return Infinity;
      if (nForced === 1) {
        if (mark) this.chosen[forcedSite] = 1;
        return bestVal;
      }
      if (bestSite >= 0 && mark) this.chosen[bestSite] = 1;
      return bestVal;
    }
    let sum = 0;
    let opened = 0;
    let minD = Infinity;
    let minSite = -1;
    for (let s = 0; s < nS; s++) {
      const st = state[s]!;
      let v: number;
      let must: boolean;
      if (s === force) {
        if (!Number.isFinite(forceVal)) continue;
        v = forceVal;
        must = true;
      } else {
        if (st === CLOSED) continue;
        v = this.openVal[s]!;
        must = st >= 0 || st === OPEN_ANY;
      }
      const d = v + sp;
      if (must) {
        sum += d;
        opened++;
        if (mark) this.chosen[s] = 1;
      } else if (d < 0) {
        sum += d;
        opened++;
        if (mark) this.chosen[s] = 1;
      } else if (d < minD) {
        minD = d;
        minSite = s;
      }
    }
    if (opened > 0) return sum - sp;
    // Nothing pays for itself: all closed, or the single best site.
    if (minSite >= 0 && minD - sp < 0) {
      if (mark) this.chosen[minSite] = 1;
      return minD - sp;
    }
    return 0;
  }

  /** The bound with the last evaluation's values and site s closed (Infinity: cannot) or opened at value v. */
  boundWith(state: Int32Array, s: number, v: number): number {
    return this.constant + this.combine(state, s, v, this.p.splitPenalty, this.p.allowSplit, false);
  }

  /**
   * Subgradient of the last evaluation's chosen solution; returns its squared norm (0 when the
   * chosen solution satisfies every relaxed constraint with complementary slackness).
   */
  private readonly kgUnits: Float64Array;
  subgradient(): number {
    const gL = this.gL;
    const gP = this.gP;
    const gN = this.gN;
    const gK = this.gK;
    gL.fill(0);
    gP.fill(0);
    gN.fill(0);
    gK.fill(0);
    let units = 0;
    for (let s = 0; s < this.nSites; s++) {
      if (!this.chosen[s]) continue;
      const oi = this.openOpt[s]!;
      const o = this.optOf[oi]!;
      const n = this.optN[oi]!;
      const cap = Number.isFinite(o.K) ? Math.min(n * o.K * (1 + KG_EPS), o.kgCap + KG_CAP_SLACK) : o.kgCap + KG_CAP_SLACK;
      this.fillTakes(s, o, cap, this.kgUnits);
      units += this.kgUnits[1]!;
      gN[o.courier] = gN[o.courier]! + n;
      gK[o.courier] = gK[o.courier]! + this.kgUnits[0]!;
    }
    let norm = 0;
    {
      let g = this.cutLive ? units - this.maxUnits : 0;
      if (g < 0 && this.rho[0] === 0) g = 0;
      this.gR[0] = g;
      norm += g * g;
    }
    norm += projectRows(gL, this.lineQty, this.lineLive, this.lam);
    // Pools: the active ones only (the others' entries of gP are never read).
    {
      const act = this.poolAct;
      const qty = this.poolQty;
      const live = this.poolLive;
      const mu = this.mu;
      for (let k = 0; k < this.nPoolAct; k++) {
        const r = act[k]!;
        if (!live[r] && mu[r] === 0) {
          gP[r] = 0;
          continue;
        }
        let d = gP[r]! - qty[r]!;
        if (d < 0 && mu[r] === 0) d = 0;
        gP[r] = d;
        norm += d * d;
      }
    }
    for (let c = 0; c < gN.length; c++) {
      let g = Number.isFinite(this.courierN[c]!) ? gN[c]! - this.courierN[c]! : 0;
      if (g < 0 && this.nu[c] === 0) g = 0;
      gN[c] = g;
      norm += g * g;
      let h = Number.isFinite(this.courierKg[c]!) ? gK[c]! - this.courierKg[c]! : 0;
      if (h < 0 && this.kap[c] === 0) h = 0;
      gK[c] = h;
      norm += h * h;
    }
    return norm;
  }

  /** Deflection: the direction is g + deflect * previous direction (0 restarts). */
  private readonly dirs: Float64Array[];
  /** The subgradient's and the multipliers' parts, in the same order as `dirs`. */
  private readonly gs: Float64Array[];
  private readonly ms: Float64Array[];
  /** Turns the last subgradient into the (deflected) direction; returns its squared norm. */
  direction(deflect: number): number {
    const gs = this.gs;
    const ms = this.ms;
    let norm = 0;
    for (let k = 0; k < 5; k++) {
      const g = gs[k]!;
      const d = this.dirs[k]!;
      const m = ms[k]!;
      if (k === 1) {
        // Pools: the active ones (the others' direction stays 0).
        const act = this.poolAct;
        for (let j = 0; j < this.nPoolAct; j++) {
          const i = act[j]!;
          let v = g[i]! + deflect * d[i]!;
          if (v < 0 && m[i] === 0) v = 0;
          d[i] = v;
          norm += v * v;
        }
        continue;
      }
      for (let i = 0; i < g.length; i++) {
        let v = g[i]! + deflect * d[i]!;
        if (v < 0 && m[i] === 0) v = 0;
        d[i] = v;
        norm += v * v;
      }
    }
    return norm;
  }

  /** Moves the multipliers by step t along the last direction (projected on >= 0). */
  step(t: number): void {
    const ms = this.ms;
    for (let k = 0; k < 5; k++) {
      const m = ms[k]!;
      const d = this.dirs[k]!;
      if (k === 1) {
        const act = this.poolAct;
        for (let j = 0; j < this.nPoolAct; j++) {
          const i = act[j]!;
          const v = m[i]! + t * d[i]!;
          m[i] = v > 0 ? v : 0;
        }
        continue;
      }
      for (let i = 0; i < m.length; i++) {
        const v = m[i]! + t * d[i]!;
        m[i] = v > 0 ? v : 0;
      }
    }
  }

  /** Forgets the deflection direction. */
  resetDirection(): void {
    for (const d of this.dirs) d.fill(0);
  }
}

/**
 * Turns use per `<= qty` row into its projected subgradient, in place: use - qty, except 0 for a
 * row that cannot bind whose multiplier is 0, and never negative while the multiplier is 0.
 * Returns the squared norm of the result.
 */
function projectRows(g: Float64Array, qty: Float64Array, live: Uint8Array, mult: Float64Array): number {
  let norm = 0;
  for (let r = 0; r < g.length; r++) {
    if (!live[r] && mult[r] === 0) {
      g[r] = 0;
      continue;
    }
    let d = g[r]! - qty[r]!;
    if (d < 0 && mult[r] === 0) d = 0;
    g[r] = d;
    norm += d * d;
  }
  return norm;
}
