/**
 * The order in which to try SRV targets (RFC 2782, "Usage rules" and the
 * "Weight" field description): ascending priority; within one priority a
 * weighted random permutation, drawn record by record.
 */
import type { SrvRecord } from './dns-client.js';

/** Uniform random number in [0, 1), like Math.random. Injected to make the order deterministic in tests. */
export type RandomSource = () => number;

/**
 * RFC 2782 ordering. Within each priority: put weight-0 records first, sum the
 * weights of the records not yet chosen, draw an integer uniformly in
 * [0, sum] (inclusive), pick the first record whose running weight sum is
 * greater than or equal to it, remove it, and repeat.
 *
 * Weight-0 records therefore get a small chance of being picked first only
 * when the draw is exactly 0, as the RFC intends ("a very small chance").
 */
export function orderSrv<T extends Pick<SrvRecord, 'priority' | 'weight'>>(records: readonly T[], random: RandomSource = Math.random): T[] {
  const byPriority = new Map<number, T[]>();
  for (const r of records) {
    const group = byPriority.get(r.priority);
    if (group === undefined) byPriority.set(r.priority, [r]);
    else group.push(r);
  }
  const out: T[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const group = byPriority.get(priority) ?? [];
    // Stable: weight-0 records first, otherwise the order received.
    const pending = [...group.filter((r) => r.weight === 0), ...group.filter((r) => r.weight !== 0)];
    while (pending.length > 0) {
      const sum = pending.reduce((s, r) => s + r.weight, 0);
      const draw = Math.min(sum, Math.floor(clampUnit(random()) * (sum + 1)));
      let running = 0;
      let index = pending.length - 1;
      for (let i = 0; i < pending.length; i++) {
        running += (pending[i] as T).weight;
        if (running >= draw) {
          index = i;
          break;
        }
      }
      out.push(...pending.splice(index, 1));
    }
  }
  return out;
}

function clampUnit(x: number): number {
  if (!(x >= 0)) return 0;
  return x < 1 ? x : 1 - Number.EPSILON;
}
