/**
 * The random distributions the simulator draws from, all from one seeded generator.
 */
import type { Random } from '../overlay/random.js';

/** Standard normal by Box-Muller. */
export function normal(random: Random): number {
  const u = 1 - random.next();
  const v = random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Log-normal with the given median and shape sigma. */
export function logNormal(random: Random, median: number, sigma: number): number {
  return median * Math.exp(sigma * normal(random));
}

/**
 * Weibull with the given median and shape. P2P session lengths fit a Weibull with shape below 1
 * (Stutzbach & Rejaie, "Understanding Churn in Peer-to-Peer Networks", IMC 2006): many short
 * sessions and a long tail.
 */
export function weibull(random: Random, median: number, shape: number): number {
  const scale = median / Math.pow(Math.LN2, 1 / shape);
  return scale * Math.pow(-Math.log(1 - random.next()), 1 / shape);
}

/** Value at quantile q (0..1) of a numeric list; NaN for an empty one. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}
