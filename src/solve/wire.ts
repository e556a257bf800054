import type { Problem } from '../../solver/types.js';

/**
 * A problem as the solver threads receive it: every number in one Float64Array, whose buffer is
 * transferred (moved, not copied) to the thread, and every name in one string. A structured clone
 * of the object form (hundreds of small objects) cost about 140 µs per demo-day problem, half of
 * it on the request thread; encoding and posting this costs about 13 µs there, and the thread
 * rebuilds the objects on its own time.
 *
 * Layout (null as NaN, booleans as 0/1):
 *   header   VERSION, lines, pools, sites, arcs, options, couriers, splitPenalty, backorderPenalty, allowSplit
 *   lines    qty, unitWeightKg
 *   pools    qty
 *   sites    parcelCap
 *   arcs     site, line, pool, unitCost, transfer
 *   options  site, courier, fixedCost, perParcel, perKg, parcelMaxKg, transfer
 *   couriers parcelCap, kgCap
 * names: line SKUs, pool ids, site ids, courier ids, joined by NUL (never part of an id).
 */
export interface WireProblem {
  numbers: Float64Array<ArrayBuffer>;
  names: string;
}

const VERSION = 1;
const HEADER = 10;
const ARC = 5;
const OPTION = 7;
const SEP = '\u0000';

const num = (x: number | null): number => (x === null ? NaN : x);
const orNull = (x: number): number | null => (Number.isNaN(x) ? null : x);

export function encodeProblem(p: Problem): WireProblem {
  const { lines, pools, sites, arcs, options, couriers } = p;
  const n = HEADER + 2 * lines.length + pools.length + sites.length + ARC * arcs.length + OPTION * options.length + 2 * couriers.length;
  const f = new Float64Array(n);
  let i = 0;
  f[i++] = VERSION;
  f[i++] = lines.length;
  f[i++] = pools.length;
  f[i++] = sites.length;
  f[i++] = arcs.length;
  f[i++] = options.length;
  f[i++] = couriers.length;
  f[i++] = p.splitPenalty;
  f[i++] = p.backorderPenalty;
  f[i++] = p.allowSplit ? 1 : 0;
  const names: string[] = [];
  for (const l of lines) {
    f[i++] = l.qty;
    f[i++] = l.unitWeightKg;
    names.push(l.sku);
  }
  for (const q of pools) {
    f[i++] = q.qty;
    names.push(q.id);
  }
  for (const s of sites) {
    f[i++] = num(s.parcelCap);
    names.push(s.id);
  }
  for (const a of arcs) {
    f[i++] = a.site;
    f[i++] = a.line;
    f[i++] = a.pool;
    f[i++] = a.unitCost;
    f[i++] = a.transfer ? 1 : 0;
  }
  for (const o of options) {
    f[i++] = o.site;
    f[i++] = o.courier;
    f[i++] = o.fixedCost;
    f[i++] = o.perParcel;
    f[i++] = o.perKg;
    f[i++] = num(o.parcelMaxKg);
    f[i++] = o.transfer ? 1 : 0;
  }
  for (const c of couriers) {
    f[i++] = num(c.parcelCap);
    f[i++] = num(c.kgCap);
    names.push(c.id);
  }
  return { numbers: f, names: names.join(SEP) };
}

export function decodeProblem(w: WireProblem): Problem {
  const f = w.numbers;
  if (f[0] !== VERSION) throw new Error(`problem wire format ${f[0]}, this thread reads ${VERSION}`);
  const [nL, nP, nS, nA, nO, nC] = [f[1]!, f[2]!, f[3]!, f[4]!, f[5]!, f[6]!];
  const names = nL + nP + nS + nC === 0 ? [] : w.names.split(SEP);
  let i = HEADER;
  let k = 0;
  const p: Problem = { lines: [], pools: [], sites: [], arcs: [], options: [], couriers: [], splitPenalty: f[7]!, backorderPenalty: f[8]!, allowSplit: f[9] === 1 };
  for (let j = 0; j < nL; j++, i += 2) p.lines.push({ sku: names[k++]!, qty: f[i]!, unitWeightKg: f[i + 1]! });
  for (let j = 0; j < nP; j++, i++) p.pools.push({ id: names[k++]!, qty: f[i]! });
  for (let j = 0; j < nS; j++, i++) p.sites.push({ id: names[k++]!, parcelCap: orNull(f[i]!) });
  for (let j = 0; j < nA; j++, i += ARC) p.arcs.push({ site: f[i]!, line: f[i + 1]!, pool: f[i + 2]!, unitCost: f[i + 3]!, transfer: f[i + 4] === 1 });
  for (let j = 0; j < nO; j++, i += OPTION) {
    p.options.push({ site: f[i]!, courier: f[i + 1]!, fixedCost: f[i + 2]!, perParcel: f[i + 3]!, perKg: f[i + 4]!, parcelMaxKg: orNull(f[i + 5]!), transfer: f[i + 6] === 1 });
  }
  for (let j = 0; j < nC; j++, i += 2) p.couriers.push({ id: names[k++]!, parcelCap: orNull(f[i]!), kgCap: orNull(f[i + 1]!) });
  if (i !== f.length || k !== names.length) throw new Error('malformed problem on the wire');
  return p;
}
