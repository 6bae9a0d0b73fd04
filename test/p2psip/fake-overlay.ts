/**
 * An overlay port with no overlay behind it (src/p2psip/overlay-port.ts): a map of key -> values,
 * what was published and withdrawn, and switches for "knows peers" and "peers answer". What the
 * P2PSIP layer does with the overlay, seen without sockets.
 */
import type { Clock, TimerHandle } from '../../src/common/clock.js';
import { idToHex, type NodeId } from '../../src/overlay/id.js';
import type { FoundValues, OverlayPort, OverlayRecord } from '../../src/p2psip/overlay-port.js';

export class FakeOverlayPort implements OverlayPort {
  /** Values peers hold, by key (hex). */
  readonly held = new Map<string, string[]>();
  readonly published: Array<{ key: string; records: readonly OverlayRecord[] }> = [];
  readonly unpublished: Array<{ key: string; values: readonly string[]; removalProofs?: ReadonlyMap<string, string> }> = [];
  lookups = 0;
  peers = true;
  peersAnswer = true;
  joined = true;

  hold(key: NodeId, ...values: string[]): void {
    this.held.set(idToHex(key), values);
  }

  findValue(key: NodeId, done: (found: FoundValues) => void): void {
    this.lookups++;
    const values = this.peersAnswer ? (this.held.get(idToHex(key)) ?? []) : [];
    queueMicrotask(() => done({ values, peersAnswered: this.peersAnswer && this.peers }));
  }

  publish(key: NodeId, records: readonly OverlayRecord[], done: (storedAt: number) => void): void {
    this.published.push({ key: idToHex(key), records });
    queueMicrotask(() => done(1));
  }

  unpublish(key: NodeId, values: readonly string[], done: (removedAt: number) => void, removalProofs?: ReadonlyMap<string, string>): void {
    this.unpublished.push({ key: idToHex(key), values, ...(removalProofs ? { removalProofs } : {}) });
    queueMicrotask(() => done(1));
  }

  isJoined(): boolean {
    return this.joined;
  }

  hasPeers(): boolean {
    return this.peers;
  }
}

/** Time that moves only when the test says so. */
export class ManualClock implements Clock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  setTimer(): TimerHandle {
    return { cancel: () => undefined };
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
