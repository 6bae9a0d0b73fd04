/**
 * A binary min-heap on a numeric key; equal keys come out in insertion order (FIFO), which makes
 * the simulator's event order, and so its runs, deterministic. Used by the simulator's event queue
 * and the registrar's expiry queue. No removal from the middle: users mark entries stale and skip
 * them when popped (lazy deletion).
 */
interface Entry<T> {
  readonly key: number;
  readonly seq: number;
  readonly value: T;
}

export class MinHeap<T> {
  #items: Entry<T>[] = [];
  #seq = 0;

  get size(): number {
    return this.#items.length;
  }

  push(key: number, value: T): void {
    const a = this.#items;
    const entry: Entry<T> = { key, seq: this.#seq++, value };
    let i = a.length;
    a.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = a[parent]!;
      if (!before(entry, above)) break;
      a[i] = above;
      i = parent;
    }
    a[i] = entry;
  }

  peekKey(): number | undefined {
    return this.#items[0]?.key;
  }

  peek(): T | undefined {
    return this.#items[0]?.value;
  }

  pop(): T | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined) return undefined;
    if (a.length === 0) return top.value;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = last;
      let at = -1;
      if (l < a.length && before(a[l]!, m)) {
        m = a[l]!;
        at = l;
      }
      if (r < a.length && before(a[r]!, m)) {
        m = a[r]!;
        at = r;
      }
      if (at < 0) break;
      a[i] = m;
      i = at;
    }
    a[i] = last;
    return top.value;
  }

  clear(): void {
    this.#items = [];
  }
}

function before<T>(x: Entry<T>, y: Entry<T>): boolean {
  return x.key < y.key || (x.key === y.key && x.seq < y.seq);
}
