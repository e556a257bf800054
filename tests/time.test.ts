import { describe, expect, it } from 'vitest';
import { localDay, nextReadyMs, parseLocalTime, toIsoWithOffset } from '../src/allocate/time.js';

const CST = 480;
const at = (iso: string) => Date.parse(iso);
const wh = { cutoffLocal: '17:00', processingHours: 3 };

describe('warehouse ready time and ETA clock (China Standard Time)', () => {
  it('releases at once before the cut-off', () => {
    expect(toIsoWithOffset(nextReadyMs(at('2026-11-11T10:00:00+08:00'), wh, 0, CST), CST)).toBe('2026-11-11T13:00:00+08:00');
  });

  it('waits for 08:00 when the order comes in at night', () => {
    expect(toIsoWithOffset(nextReadyMs(at('2026-11-11T03:30:00+08:00'), wh, 0, CST), CST)).toBe('2026-11-11T11:00:00+08:00');
  });

  it('moves to the next morning after the cut-off', () => {
    expect(toIsoWithOffset(nextReadyMs(at('2026-11-11T17:01:00+08:00'), wh, 0, CST), CST)).toBe('2026-11-12T11:00:00+08:00');
  });

  it('adds line-haul lead time before release', () => {
    // Stock arrives 10:00 + 8 h = 18:00, after the cut-off: processed next morning.
    expect(toIsoWithOffset(nextReadyMs(at('2026-11-11T10:00:00+08:00'), wh, 8, CST), CST)).toBe('2026-11-12T11:00:00+08:00');
  });

  it('tells the local day and formats offsets', () => {
    expect(localDay(at('2026-11-11T23:30:00+08:00'), CST)).toBe('2026-11-11');
    expect(localDay(at('2026-11-11T16:30:00Z'), CST)).toBe('2026-11-12');
    expect(toIsoWithOffset(at('2026-11-11T00:00:00Z'), -330)).toBe('2026-11-10T18:30:00-05:30');
    expect(parseLocalTime('16:30')).toBe(990);
    expect(() => parseLocalTime('4pm')).toThrow();
  });
});
