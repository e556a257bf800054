import type { StreamCapacity, StreamOrder, StreamOrderPlan, StreamSupply } from '../../solver/stream.js';

/**
 * An independent feasibility check of a whole-stream plan, written from the model's statement
 * (docs/replays.md "The clairvoyant model") and not from solver/stream.ts: every order served or
 * backordered once per line, shipments only through the order's options, one per warehouse,
 * transfer arcs only in transfer options, enough parcels for the weight, stock over time (what
 * orders placed before a receipt take stays within what had arrived; in total, within all of
 * it), outbound parcels per warehouse and day, parcels and kg per courier, province and day.
 */
export function checkStreamPlan(orders: StreamOrder[], plans: StreamOrderPlan[], supply: StreamSupply[], caps: StreamCapacity): string[] {
  const bad: string[] = [];
  const eps = 1e-6;
  const poolUse: { pool: string; at: number; qty: number }[] = [];
  const resUse = new Map<string, { at: number; qty: number }[]>();
  const book = (key: string, at: number, qty: number) => (resUse.get(key) ?? resUse.set(key, []).get(key)!).push({ at, qty });
  orders.forEach((o, i) => {
    const p = o.problem;
    const plan = plans[i]!;
    const shipped = p.lines.map(() => 0);
    const sites = new Set<number>();
    for (const s of plan.shipments) {
      const opt = p.options[s.option];
      if (!opt) {
        bad.push(`${o.id}: no option ${s.option}`);
        continue;
      }
      if (sites.has(opt.site)) bad.push(`${o.id}: two shipments from site ${opt.site}`);
      sites.add(opt.site);
      let kg = 0;
      for (const a of s.arcs) {
        const arc = p.arcs[a.arc]!;
        if (arc.site !== opt.site) bad.push(`${o.id}: arc ${a.arc} of another site`);
        if (arc.transfer && !opt.transfer) bad.push(`${o.id}: transfer arc in a direct shipment`);
        if (!Number.isInteger(a.qty) || a.qty < 0) bad.push(`${o.id}: ${a.qty} units`);
        shipped[arc.line]! += a.qty;
        kg += a.qty * p.lines[arc.line]!.unitWeightKg;
        poolUse.push({ pool: p.pools[arc.pool]!.id, at: o.atMs, qty: a.qty });
      }
      const need = opt.parcelMaxKg === null ? 1 : Math.max(1, Math.ceil(kg / opt.parcelMaxKg - 1e-9));
      if (s.parcels < need) bad.push(`${o.id}: ${s.parcels} parcels for ${kg} kg`);
      if (s.arcs.length === 0) bad.push(`${o.id}: an empty shipment`);
      const courier = p.couriers[opt.courier]!.id;
      book(`w|${p.sites[opt.site]!.id}|${o.day}`, o.atMs, s.parcels);
      book(`cp|${courier}|${o.province}|${o.day}`, o.atMs, s.parcels);
      book(`ck|${courier}|${o.province}|${o.day}`, o.atMs, kg);
    }
    p.lines.forEach((l, li) => {
      if (Math.abs(shipped[li]! + plan.backordered[li]! - l.qty) > eps) bad.push(`${o.id}: line ${li} ${shipped[li]} shipped + ${plan.backordered[li]} backordered ≠ ${l.qty}`);
    });
  });
  const pools = new Set(poolUse.map((u) => u.pool));
  for (const pool of pools) {
    const arrivals = supply.filter((s) => s.pool === pool);
    for (const cut of [...arrivals.filter((s) => Number.isFinite(s.atMs)).map((s) => s.atMs), Infinity]) {
      const used = poolUse.filter((u) => u.pool === pool && u.at < cut).reduce((n, u) => n + u.qty, 0);
      const had = arrivals.filter((s) => s.atMs < cut).reduce((n, s) => n + s.qty, 0);
      if (used > had + eps) bad.push(`${pool}: ${used} taken before ${cut}, ${had} arrived`);
    }
  }
  for (const [key, uses] of resUse) {
    const [kind, a, b, c] = key.split('|') as [string, string, string, string];
    const limits = kind === 'w' ? caps.warehouseParcels(a, b) : kind === 'cp' ? caps.courierParcels(a, b, c) : caps.courierKg(a, b, c);
    const sorted = [...limits].sort((x, y) => x.fromMs - y.fromMs);
    sorted.forEach((l, i) => {
      if (l.limit === null) return;
      const until = sorted[i + 1]?.fromMs ?? Infinity;
      const used = uses.filter((u) => u.at < until).reduce((n, u) => n + u.qty, 0);
      if (used > l.limit + eps) bad.push(`${key}: ${used} booked against ${l.limit}`);
    });
  }
  return bad;
}

