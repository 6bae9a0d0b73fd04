/**
 * A Map used as a bounded table of sources (least recently set evicted first), so that a spray of
 * forged source addresses cannot grow memory: the one piece of code behind the per-source tables
 * of the transport's bad-input log, the STUN server, admission control and the digest cooling-off.
 */

/**
 * Sets `key` to `value` as the most recent entry: Maps keep insertion order, so re-inserting moves
 * a key to the end and the first key is the least recently set; when the map holds `max` other
 * keys that first one is evicted.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
