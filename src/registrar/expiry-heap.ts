/**
 * A binary min-heap on a numeric key, used as the expiry queue of the binding store. Entries are
 * never removed from the middle: the store drops a popped entry whose binding was meanwhile
 * refreshed or removed (lazy deletion) and rebuilds the heap when stale entries pile up.
 */
export class MinHeap<T> {
  #items: Array<{ key: number; value: T }> = [];

  get size(): number {
    return this.#items.length;
  }

  push(key: number, value: T): void {
    const a = this.#items;
    a.push({ key, value });
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent];
      const c = a[i];
      if (p === undefined || c === undefined || p.key <= c.key) break;
      a[parent] = c;
      a[i] = p;
      i = parent;
    }
  }

  peekKey(): number | undefined {
    return this.#items[0]?.key;
  }

  pop(): T | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined) return undefined;
    if (a.length === 0) return top.value;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      const am = a[m];
      const al = a[l];
      const ar = a[r];
      if (am === undefined) break;
      let mk = am.key;
      if (al !== undefined && al.key < mk) {
        m = l;
        mk = al.key;
      }
      if (ar !== undefined && ar.key < mk) m = r;
      if (m === i) break;
      const x = a[m];
      if (x === undefined) break;
      a[m] = am;
      a[i] = x;
      i = m;
    }
    return top.value;
  }

  clear(): void {
    this.#items = [];
  }
}
