import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { counterKeys, counterSlot, slotTag, storeKeys, warehouseOfSlot } from '../../src/store/keys.js';
import { KPI_MARKS } from '../../src/store/types.js';

/** The Redis Cluster slot of a key (CRC16 of its hash tag, as the Cluster computes it). */
const slot = (key: string) => calculateSlot(key);
/** The slot a tag (without braces) names. */
const slotOfTag = (tag: string) => slot(`{${tag}}`);

describe('store keys: which Cluster slot each family shares', () => {
  const day = '2026-11-11';

  it('a warehouse: its eight script keys, its on-hand hash, its lot expiries and its outbound-parcel counters share one slot', () => {
    for (const w of ['SH01', 'TJ01', 'HF01']) {
      const s = slotOfTag(slotTag.warehouse(w));
      const keys = [...storeKeys.slot(slotTag.warehouse(w)), storeKeys.onHand(w), storeKeys.lots(w)];
      expect(keys).toHaveLength(10);
      for (const k of keys) expect(slot(k), k).toBe(s);
      // The counter is a field of the slot's counter hash: it must name that slot.
      expect(counterSlot(counterKeys.warehouseParcels(w, day))).toBe(slotTag.warehouse(w));
      expect(warehouseOfSlot(slotTag.warehouse(w))).toBe(w);
    }
    // Different warehouses are different slots (else the Cluster could not spread them).
    expect(slotOfTag(slotTag.warehouse('SH01'))).not.toBe(slotOfTag(slotTag.warehouse('HF01')));
  });

  it('courier counters: every courier, province and day in the one cap slot (a reroute moves use between two atomically)', () => {
    const tags = new Set<string>();
    for (const c of ['STO', 'ZTO', 'SF']) {
      for (const p of ['310000', '320000']) {
        tags.add(counterSlot(counterKeys.courierParcels(c, p, day)));
        tags.add(counterSlot(counterKeys.courierGrams(c, p, day)));
      }
    }
    expect([...tags]).toEqual([slotTag.courierCounters]);
    expect(storeKeys.slot(slotTag.courierCounters).map(slot)).toEqual(Array(8).fill(slotOfTag('cap')));
  });

  it("an order: its record, reroutes and scans share the order's slot", () => {
    for (const id of ['ERP-1', 'D11-20261111-000001']) {
      const s = slot(storeKeys.order(id));
      expect(slot(storeKeys.reroutes(id))).toBe(s);
      expect(slot(storeKeys.scans(id))).toBe(s);
      expect(s).toBe(slotOfTag(slotTag.order(id)));
    }
  });

  it('indexes in idx, shared configuration in cfg, locks and events in their own slots', () => {
    expect(slot(storeKeys.orderIndex)).toBe(slotOfTag('idx'));
    expect(slot(storeKeys.shipmentIndex('STO', '320000', day))).toBe(slotOfTag('idx'));
    for (const k of [storeKeys.quotes('STO'), storeKeys.quotesVersion('STO'), storeKeys.capacityLimit('ZTO', '320000', day), storeKeys.apiKey('erp-main'), storeKeys.apiKeyIndex, storeKeys.rulesetIndex, storeKeys.rulesetVersions('dispatch'), storeKeys.rulesetVersion('dispatch', 3), storeKeys.rulesetActive('dispatch'), storeKeys.rulesetAudit('dispatch'), storeKeys.rulesEpoch]) {
      expect(slot(k), k).toBe(slotOfTag('cfg'));
    }
    expect(slot(storeKeys.lockIndex('LCK-1'))).toBe(slotOfTag(slotTag.lock('LCK-1')));
    expect(slot(storeKeys.event('GRN-1'))).toBe(slotOfTag(slotTag.event('GRN-1')));
    expect(slot(storeKeys.idempotency('lock:K-1'))).toBe(slotOfTag(slotTag.idempotency('lock:K-1')));
  });

  it('the running KPI counters: totals, shares, retention queue and every time mark in the one kpi slot (one script changes them together)', () => {
    const keys = [storeKeys.kpiSums, storeKeys.kpiShares, storeKeys.kpiDrop, ...KPI_MARKS.map(storeKeys.kpiMark)];
    expect(new Set(keys.map(slot))).toEqual(new Set([slotOfTag(slotTag.kpi)]));
  });

  it('the outbox: entries, due queue and every list index in the one obx slot, whatever the order id or code holds', () => {
    const keys = [
      storeKeys.outboxEntries,
      storeKeys.outboxDue,
      storeKeys.outboxIndex,
      ...['pending', 'delivered', 'dead'].map(storeKeys.outboxByState),
      // An order id with braces must not move its index to another slot (the first {…} decides).
      ...['ERP-1', 'weird{ord}:id'].map(storeKeys.outboxByOrder),
      storeKeys.outboxByCode('CORE_RETURN_TASK'),
    ];
    for (const k of keys) expect(slot(k), k).toBe(slotOfTag(slotTag.outbox));
  });
});
