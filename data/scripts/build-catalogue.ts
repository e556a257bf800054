/**
 * Builds data/catalogue/skus.json: the demo auto-parts catalogue (227 SKUs).
 *
 *   npx tsx data/scripts/build-catalogue.ts
 *
 * Seeded and deterministic: the same script gives a byte-identical file. Names, weights and price
 * bands are typed in from typical Chinese aftermarket listings (2025/2026 price level, CNY incl.
 * VAT, B2B list price to workshops); the seed only spreads the individual SKUs inside each band.
 * Within each category the SKUs are listed in descending order of the fitted vehicles' sales in
 * China, which src/demo/orders.ts turns into Zipf-like popularity (the first SKU sells most).
 *
 * Gross margin = price − purchase cost. Independent aftermarket distributors run at roughly
 * 15-40 % gross margin: lowest on branded fluids and batteries (price-transparent, sold online),
 * highest on small parts where the customer values availability over price (bulbs, wipers).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sku } from '../../src/domain/network.js';
import { mulberry32 } from '../../src/demo/orders.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outFile = join(repoRoot, 'data', 'catalogue', 'skus.json');
const rand = mulberry32(0xca7a1061);

/** Vehicle fitments, roughly in order of China sales volume 2020-2025 (most common first). */
const VEHICLES = [
  'VW Lavida',
  'Nissan Sylphy',
  'Toyota Corolla',
  'Honda Civic',
  'Buick Excelle GT',
  'VW Sagitar',
  'Toyota Camry',
  'Honda Accord',
  'Haval H6',
  'Geely Emgrand',
  'VW Passat',
  'Buick LaCrosse',
  'Changan CS75',
  'BYD Qin',
  'Audi A4L',
  'BMW 3 Series',
  'Mercedes C-Class',
  'Wuling Hongguang',
  'Chevrolet Cruze',
  'Ford Focus',
];
/** Premium brands: parts cost 1.5-2 × the volume-brand equivalent. */
const PREMIUM = new Set(['Audi A4L', 'BMW 3 Series', 'Mercedes C-Class']);

const uniform = (lo: number, hi: number): number => lo + rand() * (hi - lo);
const r2 = (x: number): number => Math.round(x * 100) / 100;

interface Draft {
  name: string;
  weightKg: [number, number];
  priceCny: [number, number];
  /** Gross margin as a share of price, [low, high] within 0.15-0.40. */
  margin: [number, number];
  shelfLifeDays: number | null;
}

const skus: Sku[] = [];
function emit(prefix: string, category: string, drafts: Draft[]): void {
  drafts.forEach((d, i) => {
    const price = Math.round(uniform(d.priceCny[0], d.priceCny[1]));
    const marginShare = uniform(d.margin[0], d.margin[1]);
    skus.push({
      sku: `${prefix}-${String(i + 1).padStart(4, '0')}`,
      name: d.name,
      category,
      unitWeightKg: r2(uniform(d.weightKg[0], d.weightKg[1])),
      priceCny: price,
      grossMarginCny: r2(price * marginShare),
      shelfLifeDays: d.shelfLifeDays,
      // A customer accepts a shelf-life part with at least a third of its life left at delivery
      // (the common one-third rule of parts and consumables distribution).
      minRemainingShelfLifeDays: d.shelfLifeDays === null ? null : Math.ceil(d.shelfLifeDays / 3),
    });
  });
}
const premium = (v: string, band: [number, number]): [number, number] =>
  PREMIUM.has(v) ? [band[0] * 1.7, band[1] * 1.9] : band;

// Brake pads: front and rear sets for the 15 best-selling fitments. BRK-0001 is the front set for
// the VW Lavida: ~1.2 kg, the demo's and the tests' reference SKU, and the case's key-account item.
const padVehicles = VEHICLES.slice(0, 15);
emit('BRK', 'brake-pad', [
  { name: 'Front brake pad set, semi-metallic, VW Lavida / Bora', weightKg: [1.18, 1.22], priceCny: [165, 175], margin: [0.3, 0.32], shelfLifeDays: null },
  ...padVehicles.slice(1).map<Draft>((v) => ({
    name: `Front brake pad set, ceramic, ${v}`,
    weightKg: [1.0, 1.5],
    priceCny: premium(v, [130, 260]),
    margin: [0.25, 0.38],
    shelfLifeDays: null,
  })),
  ...padVehicles.map<Draft>((v) => ({
    name: `Rear brake pad set, ceramic, ${v}`,
    weightKg: [0.7, 1.0],
    priceCny: premium(v, [95, 200]),
    margin: [0.25, 0.38],
    shelfLifeDays: null,
  })),
]);

// Brake discs (single disc): front for 12 fitments, rear for 8. Cast iron, 4-9 kg.
emit('DSC', 'brake-disc', [
  ...VEHICLES.slice(0, 12).map<Draft>((v) => ({ name: `Front brake disc, vented, ${v}`, weightKg: [5.5, 8.8], priceCny: premium(v, [190, 420]), margin: [0.22, 0.33], shelfLifeDays: null })),
  ...VEHICLES.slice(0, 8).map<Draft>((v) => ({ name: `Rear brake disc, solid, ${v}`, weightKg: [3.8, 5.8], priceCny: premium(v, [150, 320]), margin: [0.22, 0.33], shelfLifeDays: null })),
]);

// Wiper blades: single boneless blades by length (sold singly, the fast movers) and vehicle-specific
// pairs. Rubber ages: 3-year shelf life, so FEFO applies.
const wiperSizes = [24, 18, 22, 26, 16, 20, 14, 19, 21, 17, 28, 15];
emit('WIP', 'wiper', [
  ...wiperSizes.map<Draft>((inch) => ({
    name: `Boneless wiper blade ${inch}" (${inch * 25 + Math.round(inch * 0.4)} mm)`,
    weightKg: [0.15 + inch * 0.006, 0.2 + inch * 0.007],
    priceCny: [28 + inch, 45 + inch * 1.5],
    margin: [0.32, 0.4],
    shelfLifeDays: 1095,
  })),
  ...VEHICLES.slice(0, 8).map<Draft>((v) => ({ name: `Wiper blade pair, OE-fit, ${v}`, weightKg: [0.45, 0.7], priceCny: premium(v, [75, 140]), margin: [0.3, 0.4], shelfLifeDays: 1095 })),
]);

// Filters: oil, air, cabin (activated carbon), 15 fitments each.
emit('FLO', 'oil-filter', VEHICLES.slice(0, 15).map<Draft>((v) => ({ name: `Oil filter, spin-on, ${v}`, weightKg: [0.2, 0.45], priceCny: premium(v, [22, 55]), margin: [0.3, 0.4], shelfLifeDays: null })));
emit('FLA', 'air-filter', VEHICLES.slice(0, 15).map<Draft>((v) => ({ name: `Engine air filter, ${v}`, weightKg: [0.3, 0.6], priceCny: premium(v, [35, 90]), margin: [0.3, 0.4], shelfLifeDays: null })));
emit('FLC', 'cabin-filter', VEHICLES.slice(0, 15).map<Draft>((v) => ({ name: `Cabin air filter, activated carbon, ${v}`, weightKg: [0.15, 0.3], priceCny: premium(v, [38, 95]), margin: [0.3, 0.4], shelfLifeDays: null })));

// Spark plugs: single plugs (nickel, platinum, iridium by heat range) and boxed sets of 4.
const plugTypes = ['Iridium', 'Iridium', 'Platinum', 'Nickel', 'Iridium long-life', 'Double platinum', 'Nickel', 'Iridium'];
emit('SPK', 'spark-plug', [
  ...plugTypes.map<Draft>((t, i) => ({
    name: `${t} spark plug, heat range ${5 + (i % 4)}, M14`,
    weightKg: [0.045, 0.07],
    priceCny: t.startsWith('Nickel') ? [12, 20] : t.startsWith('Platinum') || t.startsWith('Double') ? [35, 60] : [55, 110],
    margin: [0.3, 0.4],
    shelfLifeDays: null,
  })),
  ...VEHICLES.slice(0, 7).map<Draft>((v) => ({ name: `Iridium spark plug set of 4, ${v}`, weightKg: [0.24, 0.3], priceCny: premium(v, [220, 420]), margin: [0.28, 0.36], shelfLifeDays: null })),
]);

// Shock absorbers (gas struts), front and rear.
emit('SHK', 'shock-absorber', [
  ...VEHICLES.slice(0, 8).map<Draft>((v) => ({ name: `Front shock absorber (strut), gas, ${v}`, weightKg: [3.2, 4.6], priceCny: premium(v, [320, 700]), margin: [0.22, 0.32], shelfLifeDays: null })),
  ...VEHICLES.slice(0, 7).map<Draft>((v) => ({ name: `Rear shock absorber, gas, ${v}`, weightKg: [2.2, 3.2], priceCny: premium(v, [230, 480]), margin: [0.22, 0.32], shelfLifeDays: null })),
]);

// Bulbs: halogen by ECE type, signal bulbs, xenon and LED retrofit kits.
const bulbs: [string, [number, number], [number, number]][] = [
  ['Halogen headlamp bulb H7 12V 55W', [0.03, 0.05], [18, 35]],
  ['Halogen headlamp bulb H4 12V 60/55W', [0.03, 0.05], [18, 35]],
  ['Halogen fog/headlamp bulb H11 12V 55W', [0.03, 0.05], [22, 40]],
  ['Halogen bulb 9005 (HB3) 12V 60W', [0.03, 0.05], [22, 40]],
  ['Halogen bulb 9006 (HB4) 12V 51W', [0.03, 0.05], [22, 40]],
  ['Signal bulb P21W 12V, box of 10', [0.05, 0.08], [25, 40]],
  ['Wedge bulb W5W (T10) 12V, box of 10', [0.03, 0.05], [15, 28]],
  ['Halogen headlamp bulb H1 12V 55W', [0.03, 0.05], [18, 32]],
  ['LED headlamp retrofit kit H7 (pair)', [0.15, 0.25], [180, 320]],
  ['LED headlamp retrofit kit H4 (pair)', [0.15, 0.25], [180, 320]],
  ['Xenon HID bulb D1S 35W', [0.06, 0.1], [260, 450]],
  ['Xenon HID bulb D3S 35W', [0.06, 0.1], [260, 450]],
];
emit('BLB', 'bulb', bulbs.map<Draft>(([name, w, p]) => ({ name, weightKg: w, priceCny: p, margin: [0.3, 0.4], shelfLifeDays: null })));

// Belts: poly-V belts by length and timing-belt kits. Rubber: 5-year shelf life (FEFO).
const belts: [string, [number, number], [number, number]][] = [
  ['Poly-V belt 6PK1220', [0.18, 0.22], [55, 85]],
  ['Poly-V belt 6PK1070', [0.16, 0.2], [50, 80]],
  ['Poly-V belt 5PK1150', [0.14, 0.18], [45, 75]],
  ['Poly-V belt 6PK1545', [0.22, 0.27], [60, 95]],
  ['Poly-V belt 4PK850', [0.1, 0.13], [35, 55]],
  ['Poly-V belt 6PK2260', [0.3, 0.36], [80, 130]],
  ['Poly-V belt 7PK1750', [0.28, 0.34], [80, 130]],
];
emit('BLT', 'belt', [
  ...belts.map<Draft>(([name, w, p]) => ({ name, weightKg: w, priceCny: p, margin: [0.28, 0.38], shelfLifeDays: 1825 })),
  ...VEHICLES.slice(0, 5).map<Draft>((v) => ({ name: `Timing belt kit (belt, tensioner, idler), ${v}`, weightKg: [1.2, 1.8], priceCny: [380, 780], margin: [0.25, 0.35], shelfLifeDays: 1825 })),
]);

// Fluids: sold in jugs/bottles; weights include the container. Glycol coolant and engine oil keep
// ~5 years sealed; brake fluid is hygroscopic, 2-3 years sealed.
emit('CLT', 'coolant', [
  { name: 'Coolant −25 °C, OAT, 4 kg', weightKg: [4.15, 4.25], priceCny: [45, 60], margin: [0.18, 0.26], shelfLifeDays: 1825 },
  { name: 'Coolant −35 °C, OAT, 4 kg', weightKg: [4.15, 4.25], priceCny: [55, 72], margin: [0.18, 0.26], shelfLifeDays: 1825 },
  { name: 'Coolant −45 °C, OAT, 4 kg', weightKg: [4.15, 4.25], priceCny: [62, 85], margin: [0.18, 0.26], shelfLifeDays: 1825 },
  { name: 'Coolant −35 °C, G12++ pink, 2 kg', weightKg: [2.1, 2.2], priceCny: [40, 55], margin: [0.18, 0.26], shelfLifeDays: 1825 },
  { name: 'Coolant −40 °C, long-life, 10 kg drum', weightKg: [10.4, 10.6], priceCny: [130, 170], margin: [0.16, 0.22], shelfLifeDays: 1825 },
  { name: 'Coolant concentrate, 1.5 L', weightKg: [1.7, 1.8], priceCny: [55, 75], margin: [0.18, 0.26], shelfLifeDays: 1460 },
]);
emit('BFL', 'brake-fluid', [
  { name: 'Brake fluid DOT 4, 1 L', weightKg: [1.12, 1.18], priceCny: [45, 60], margin: [0.2, 0.28], shelfLifeDays: 1095 },
  { name: 'Brake fluid DOT 4, 500 mL', weightKg: [0.58, 0.62], priceCny: [28, 38], margin: [0.2, 0.28], shelfLifeDays: 1095 },
  { name: 'Brake fluid DOT 3, 1 L', weightKg: [1.12, 1.18], priceCny: [32, 45], margin: [0.2, 0.28], shelfLifeDays: 1095 },
  { name: 'Brake fluid DOT 5.1, 500 mL', weightKg: [0.58, 0.62], priceCny: [55, 75], margin: [0.2, 0.28], shelfLifeDays: 730 },
  { name: 'Brake fluid DOT 4 LV (ESP), 1 L', weightKg: [1.12, 1.18], priceCny: [65, 85], margin: [0.2, 0.28], shelfLifeDays: 730 },
]);
const oils: [string, [number, number], [number, number]][] = [
  ['Engine oil 5W-30 full synthetic, 4 L', [3.75, 3.85], [220, 300]],
  ['Engine oil 0W-20 full synthetic, 4 L', [3.7, 3.8], [260, 360]],
  ['Engine oil 5W-40 full synthetic, 4 L', [3.75, 3.85], [230, 320]],
  ['Engine oil 10W-40 semi-synthetic, 4 L', [3.8, 3.9], [120, 170]],
  ['Engine oil 5W-30 full synthetic, 1 L', [0.95, 1.0], [65, 90]],
  ['Engine oil 0W-40 full synthetic, 4 L', [3.7, 3.8], [330, 450]],
  ['Engine oil 5W-30 C3 (VW 504/507), 4 L', [3.75, 3.85], [300, 420]],
  ['Engine oil 0W-20 full synthetic, 1 L', [0.95, 1.0], [70, 100]],
  ['Engine oil 10W-30 mineral, 4 L', [3.8, 3.9], [85, 120]],
  ['Engine oil 5W-40 full synthetic, 1 L', [0.95, 1.0], [65, 90]],
  ['Engine oil 0W-30 full synthetic, 4 L', [3.7, 3.8], [300, 400]],
  ['Engine oil 5W-30 full synthetic, 18 L workshop drum', [16.2, 16.6], [850, 1150]],
  ['Diesel engine oil 15W-40 CK-4, 4 L', [3.85, 3.95], [130, 180]],
  ['Engine oil 0W-16 hybrid, 4 L', [3.65, 3.75], [280, 380]],
  ['Engine oil 10W-40 semi-synthetic, 18 L workshop drum', [16.4, 16.8], [480, 650]],
];
emit('OIL', 'engine-oil', oils.map<Draft>(([name, w, p]) => ({ name, weightKg: w, priceCny: p, margin: [0.16, 0.26], shelfLifeDays: 1825 })));

// Core-return items ("RECY-"): the customer returns the old unit, which is tied to the new order
// (case study: after-sales pickup task, frozen receivable, waybill note). Batteries are new units
// sold against a core; alternators, starters and calipers are remanufactured. Lead-acid batteries
// self-discharge on the shelf: 2-year shelf life, FEFO applies.
const batteries: [string, [number, number], [number, number]][] = [
  ['Battery 12V 45Ah 400A (core return)', [11.5, 12.5], [360, 460]],
  ['Battery 12V 60Ah 540A (core return)', [14.5, 15.8], [430, 560]],
  ['Battery 12V 70Ah 640A (core return)', [17.0, 18.5], [520, 660]],
  ['Battery 12V 55Ah 480A (core return)', [13.5, 14.8], [400, 520]],
  ['Battery 12V 80Ah 720A (core return)', [19.5, 21.0], [620, 780]],
  ['Battery AGM 12V 70Ah 760A start-stop (core return)', [20.0, 21.5], [1050, 1350]],
  ['Battery EFB 12V 60Ah 560A start-stop (core return)', [15.5, 16.8], [680, 860]],
  ['Battery 12V 36Ah 330A (core return)', [9.5, 10.5], [300, 380]],
  ['Battery AGM 12V 80Ah 800A start-stop (core return)', [22.5, 24.0], [1250, 1550]],
  ['Battery 12V 100Ah 800A commercial (core return)', [24.5, 26.5], [820, 1020]],
  ['Battery EFB 12V 70Ah 680A start-stop (core return)', [17.5, 19.0], [780, 980]],
  ['Battery 12V 90Ah 750A (core return)', [22.0, 23.5], [700, 880]],
];
emit('RECY-BAT', 'battery', batteries.map<Draft>(([name, w, p]) => ({ name, weightKg: w, priceCny: p, margin: [0.15, 0.22], shelfLifeDays: 730 })));
emit('RECY-ALT', 'alternator', VEHICLES.slice(0, 8).map<Draft>((v) => ({ name: `Alternator 14V, remanufactured (core return), ${v}`, weightKg: [5.0, 7.2], priceCny: premium(v, [720, 1450]), margin: [0.24, 0.34], shelfLifeDays: null })));
emit('RECY-STR', 'starter', VEHICLES.slice(0, 6).map<Draft>((v) => ({ name: `Starter motor, remanufactured (core return), ${v}`, weightKg: [3.0, 4.8], priceCny: premium(v, [520, 1150]), margin: [0.24, 0.34], shelfLifeDays: null })));
emit('RECY-CAL', 'brake-caliper', VEHICLES.slice(0, 6).map<Draft>((v) => ({ name: `Front brake caliper, remanufactured (core return), ${v}`, weightKg: [2.6, 4.0], priceCny: premium(v, [280, 620]), margin: [0.24, 0.34], shelfLifeDays: null })));

// Self-checks: the catalogue's contract with the rest of the project.
const ids = new Set(skus.map((s) => s.sku));
if (ids.size !== skus.length) throw new Error('duplicate SKU ids');
for (const s of skus) {
  const share = s.grossMarginCny / s.priceCny;
  if (!(share >= 0.15 && share <= 0.4)) throw new Error(`${s.sku}: margin share ${share.toFixed(3)} outside 15-40 %`);
  if (!(s.unitWeightKg > 0)) throw new Error(`${s.sku}: weight must be positive`);
}
const ref = skus.find((s) => s.sku === 'BRK-0001');
if (!ref || Math.abs(ref.unitWeightKg - 1.2) > 0.05) throw new Error('BRK-0001 must be the ~1.2 kg front pad set');

skus.sort((a, b) => a.sku.localeCompare(b.sku));
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `[\n${skus.map((s) => `  ${JSON.stringify(s)}`).join(',\n')}\n]\n`);
console.log(`wrote ${outFile}: ${skus.length} SKUs`);
