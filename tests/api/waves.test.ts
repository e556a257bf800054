import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import { defaultDataDir } from '../../src/network/load.js';
import { order, testApp } from '../support/app.js';

/**
 * The ETA a decision promises follows the wave model (issue 16): an order after the cut-off is
 * picked next morning, collected at the next collection wave and delivered on the lane's day by
 * its window end. Expected times are read from the data files here, not from the service's code.
 */
it('the ETA of a parcel released after the cut-off follows the wave model', async () => {
  const evening = Date.parse('2026-11-11T19:00:00+08:00');
  const { app } = await testApp({}, undefined, () => evening);
  try {
    const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ placedAt: '2026-11-11T18:59:00+08:00', promisedBy: '2026-11-14T18:00:00+08:00' }) });
    expect(r.statusCode).toBe(200);
    const [s] = r.json<Decision>().shipments;
    // People's Square is inside SH01's radius with stock there: the radius lock ships from SH01.
    expect(s!.warehouseId).toBe('SH01');
    const wh = JSON.parse(readFileSync(join(defaultDataDir(), 'network', 'warehouses.json'), 'utf8')).find((w: { id: string }) => w.id === 'SH01');
    expect(wh).toMatchObject({ cutoffLocal: '18:00', processingHours: 2, pickupWavesLocal: ['12:00', '20:30'] });
    // 19:00 is after SH01's 18:00 cut-off: released 08:00 on the 12th, ready 10:00, collected at the 12:00 wave.
    expect(s!.pickupAt).toBe('2026-11-12T12:00:00+08:00');
    const couriers = JSON.parse(readFileSync(join(defaultDataDir(), 'couriers', 'couriers.json'), 'utf8')) as { id: string; rates: { from: string; to: string; transitDays: number; deliverByLocal: string }[] }[];
    const lane = couriers.find((c) => c.id === s!.courierId)!.rates.find((x) => x.from === '310000' && x.to === '310000')!;
    expect(s!.eta).toBe(`2026-11-${12 + lane.transitDays}T${lane.deliverByLocal}:00+08:00`);
  } finally {
    await app.close();
  }
});
