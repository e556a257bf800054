import protobuf from 'protobufjs';
import { livePaths } from './paths.js';

/** Socket.io event names of the /live namespace and the message each carries (src/proto/dispatchd.proto). */
export const LIVE_EVENTS = {
  snapshot: 'Snapshot',
  decision: 'DecisionBatch',
  reroute: 'RerouteBatch',
  status: 'StatusBatch',
  stock: 'StockUpdate',
  capacity: 'CapacityUpdate',
  kpi: 'Kpi',
  goodbye: 'Goodbye',
} as const;
export type LiveEvent = keyof typeof LIVE_EVENTS;

const PACKAGE = 'dispatchd.live.v1';

/** Encoders/decoders for the live stream, built from the one .proto file. */
export class LiveCodec {
  private constructor(readonly root: protobuf.Root) {}

  static async load(protoPath = livePaths().proto): Promise<LiveCodec> {
    return new LiveCodec(await protobuf.load(protoPath));
  }

  static loadSync(protoPath = livePaths().proto): LiveCodec {
    return new LiveCodec(protobuf.loadSync(protoPath));
  }

  type(name: string): protobuf.Type {
    return this.root.lookupType(`${PACKAGE}.${name}`);
  }

  /** Encodes a plain object (camelCase field names) as the message of an event. */
  encode(event: LiveEvent, value: object): Uint8Array {
    const t = this.type(LIVE_EVENTS[event]);
    return t.encode(t.fromObject(value)).finish();
  }

  /** Decodes an event's payload to a plain object; int64 as numbers, absent optionals left out. */
  decode<T = Record<string, unknown>>(event: LiveEvent, bytes: Uint8Array): T {
    const t = this.type(LIVE_EVENTS[event]);
    return t.toObject(t.decode(bytes), { longs: Number, defaults: true, arrays: true }) as T;
  }
}
