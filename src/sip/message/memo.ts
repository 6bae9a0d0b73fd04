/**
 * Memoized header parsers. One message's headers are read several times on its way through a
 * node: validated by parseMessage, read again for the transaction key, the response target, the
 * registrar or proxy, and a response copies the request's Via, From and To, which are read again
 * when it is sent. The parsers are pure and their results immutable, so a small cache keyed by the
 * exact header text returns the same result without parsing twice (measured under a REGISTER load:
 * Via, name-addr and CSeq parsing were about a tenth of a node's CPU, most of it repeated work).
 *
 * Bounded: when full the cache starts afresh, so a flood of distinct values costs at most `max`
 * entries and never grows. Results must never be mutated; their types are readonly.
 */
export function memoizeParser<T>(parse: (text: string) => T, max = 256): (text: string) => T {
  let cache = new Map<string, T>();
  return (text: string): T => {
    const hit = cache.get(text);
    if (hit !== undefined) return hit;
    const value = parse(text);
    if (cache.size >= max) cache = new Map();
    cache.set(text, value);
    return value;
  };
}
