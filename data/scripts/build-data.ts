/**
 * Rebuilds every generated file in data/ in dependency order (`npm run data:build`).
 *
 *   npx tsx data/scripts/build-data.ts [sharedDataDir]
 *
 * Each step is a script that runs when imported; hand-maintained inputs (warehouses.json,
 * stores.json, couriers.json, corridors.json, prefecture-population.csv) are not touched.
 * Order matters: the stock sizing reads the catalogue, and the line-haul table reads the corridors.
 */
await import('./build-geo.js');
await import('./build-catalogue.js');
await import('./build-stock.js');
await import('./build-linehaul.js');
