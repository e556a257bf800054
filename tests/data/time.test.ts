import { describe, expect, it } from 'vitest';
import { localDay, parseLocalTime, toIsoWithOffset } from '../../src/domain/time.js';
import { deliveryMs, laneDays, nextWave, pickupMs, readyMs } from '../../src/domain/waves.js';

const CST = 480;
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => toIsoWithOffset(ms, CST);
const wh = { cutoffLocal: '17:00', processingHours: 3, pickupWavesLocal: ['12:00', '20:30'] };

describe('warehouse ready time (China Standard Time)', () => {
  it('releases at once before the cut-off', () => {
    expect(iso(readyMs(at('2026-11-11T10:00:00+08:00'), wh, CST))).toBe('2026-11-11T13:00:00+08:00');
  });

  it('waits for 08:00 when the order comes in at night', () => {
    expect(iso(readyMs(at('2026-11-11T03:30:00+08:00'), wh, CST))).toBe('2026-11-11T11:00:00+08:00');
  });

  it('moves to the next morning after the cut-off', () => {
    expect(iso(readyMs(at('2026-11-11T17:01:00+08:00'), wh, CST))).toBe('2026-11-12T11:00:00+08:00');
  });
});

describe('the wave model: collection waves and lanes sold in days (src/domain/waves.ts)', () => {
  const economyNextDay = { transitHours: 24, transitDays: 1, deliverByLocal: '18:00' };
  it('a parcel ready before the midday wave leaves with it; one ready after it leaves with the evening wave', () => {
    expect(iso(pickupMs(at('2026-11-11T08:30:00+08:00'), wh, 0, CST))).toBe('2026-11-11T12:00:00+08:00');
    expect(iso(pickupMs(at('2026-11-11T10:00:00+08:00'), wh, 0, CST))).toBe('2026-11-11T20:30:00+08:00');
    expect(iso(nextWave(at('2026-11-11T20:30:00+08:00'), wh, CST))).toBe('2026-11-12T12:00:00+08:00');
  });

  it('an order released after the cut-off is picked next morning, collected at the next day\'s midday wave and delivered the day after by the window end', () => {
    const now = at('2026-11-11T17:30:00+08:00');
    const pickup = pickupMs(now, wh, 0, CST);
    expect(iso(pickup)).toBe('2026-11-12T12:00:00+08:00');
    expect(iso(deliveryMs(pickup, economyNextDay, CST))).toBe('2026-11-13T18:00:00+08:00');
    // Before the cut-off the same order leaves with the evening wave and arrives next day.
    const before = pickupMs(at('2026-11-11T16:30:00+08:00'), wh, 0, CST);
    expect(iso(before)).toBe('2026-11-11T20:30:00+08:00');
    expect(iso(deliveryMs(before, economyNextDay, CST))).toBe('2026-11-12T18:00:00+08:00');
  });

  it('a transfer runs its line haul first, then the wave model at the receiving site', () => {
    // Stock arrives 10:00 + 8 h = 18:00, after the cut-off: picked next morning, midday wave.
    expect(iso(pickupMs(at('2026-11-11T10:00:00+08:00'), wh, 8, CST))).toBe('2026-11-12T12:00:00+08:00');
    // Arrives 09:00 + 5 h = 14:00: released at once, ready 17:00, evening wave.
    expect(iso(pickupMs(at('2026-11-11T09:00:00+08:00'), wh, 5, CST))).toBe('2026-11-11T20:30:00+08:00');
  });

  it('express lanes deliver by an earlier window; lanes without days read their nominal hours as days', () => {
    const sfMorning = { transitHours: 12, transitDays: 1, deliverByLocal: '12:00' };
    expect(iso(deliveryMs(at('2026-11-11T20:30:00+08:00'), sfMorning, CST))).toBe('2026-11-12T12:00:00+08:00');
    expect(laneDays({ transitHours: 36 })).toBe(2);
    expect(laneDays({ transitHours: 24 })).toBe(1);
    expect(laneDays({ transitHours: 20 })).toBe(1);
    expect(iso(deliveryMs(at('2026-11-11T12:00:00+08:00'), { transitHours: 48 }, CST))).toBe('2026-11-13T18:00:00+08:00');
    // A same-day lane collected after its window delivers the next day.
    expect(iso(deliveryMs(at('2026-11-11T20:30:00+08:00'), { transitHours: 6, transitDays: 0, deliverByLocal: '20:00' }, CST))).toBe('2026-11-12T20:00:00+08:00');
    // Days late move the delivery by whole days.
    expect(iso(deliveryMs(at('2026-11-11T20:30:00+08:00'), economyNextDay, CST, 2))).toBe('2026-11-14T18:00:00+08:00');
  });

  it('a warehouse without waves uses the default midday and evening waves', () => {
    expect(iso(pickupMs(at('2026-11-11T10:00:00+08:00'), { cutoffLocal: '17:00', processingHours: 1 }, 0, CST))).toBe('2026-11-11T12:00:00+08:00');
  });

  it('tells the local day and formats offsets', () => {
    expect(localDay(at('2026-11-11T23:30:00+08:00'), CST)).toBe('2026-11-11');
    expect(localDay(at('2026-11-11T16:30:00Z'), CST)).toBe('2026-11-12');
    expect(toIsoWithOffset(at('2026-11-11T00:00:00Z'), -330)).toBe('2026-11-10T18:30:00-05:30');
    expect(parseLocalTime('16:30')).toBe(990);
    expect(() => parseLocalTime('4pm')).toThrow();
  });
});
