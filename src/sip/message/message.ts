/**
 * The message model. Headers are kept as an ordered list of raw lines: that
 * list is the single source of truth, so unknown headers are forwarded
 * untouched and nothing parsed can drift out of sync with what is written.
 * Structured views come from accessors.ts.
 */
import { isToken } from './chars.js';
import { headerKey } from './header-names.js';
import type { Uri } from './uri.js';

export interface HeaderField {
  /** Name as received or as given when created (e.g. "v", "CALL-ID", "X-Foo"). */
  readonly name: string;
  /** Lower-case full name, compact forms expanded: the lookup key. */
  readonly key: string;
  /** Raw value: unfolded, trimmed, otherwise exactly as received. */
  readonly value: string;
}

/** Ordered, case-insensitive header list. Lookups accept full or compact names in any case. */
export class SipHeaders implements Iterable<HeaderField> {
  #fields: HeaderField[] = [];

  constructor(fields?: Iterable<{ name: string; value: string }>) {
    if (fields) for (const f of fields) this.append(f.name, f.value);
  }

  /**
   * Adopts fields the parser already checked (token names, keys computed, no CR or LF in values):
   * building them again through append() was a measurable share of parsing a message.
   */
  static ofCheckedFields(fields: HeaderField[]): SipHeaders {
    const h = new SipHeaders();
    h.#fields = fields;
    return h;
  }

  /** Builds a field, rejecting names that are not tokens and values that could inject lines. */
  static field(name: string, value: string): HeaderField {
    if (!isToken(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
    if (/[\r\n]/.test(value)) throw new TypeError(`header value contains CR or LF: ${name}`);
    return { name, key: headerKey(name), value };
  }

  get size(): number {
    return this.#fields.length;
  }

  [Symbol.iterator](): Iterator<HeaderField> {
    return this.#fields[Symbol.iterator]();
  }

  entries(): readonly HeaderField[] {
    return this.#fields.slice();
  }

  /** First value for the header, or undefined. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    return this.#fields.find((f) => f.key === key)?.value;
  }

  /** Every line's value, in order (a line may itself hold a comma-separated list). */
  getAll(name: string): string[] {
    const key = headerKey(name);
    return this.#fields.filter((f) => f.key === key).map((f) => f.value);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  count(name: string): number {
    const key = headerKey(name);
    return this.#fields.reduce((n, f) => (f.key === key ? n + 1 : n), 0);
  }

  append(name: string, value: string): this {
    this.#fields.push(SipHeaders.field(name, value));
    return this;
  }

  /** Inserts before every other field (a proxy's own Via). */
  prepend(name: string, value: string): this {
    this.#fields.unshift(SipHeaders.field(name, value));
    return this;
  }

  /**
   * Inserts above the lines of this header already there (a proxy's Record-Route), or, when there
   * are none, just below the Via lines. Only the order within one header name carries meaning
   * (RFC 3261 7.3.1), but a message whose Via and Record-Route lines alternate is hard to read in
   * a trace and trips naive parsers in some phones.
   */
  insertAbove(name: string, value: string): this {
    const f = SipHeaders.field(name, value);
    let at = this.#fields.findIndex((x) => x.key === f.key);
    if (at < 0) {
      at = 0;
      while (at < this.#fields.length && this.#fields[at]!.key === 'via') at++;
    }
    this.#fields.splice(at, 0, f);
    return this;
  }

  /** Replaces all lines of this header by one line at the position of the first (or at the end). */
  set(name: string, value: string): this {
    const f = SipHeaders.field(name, value);
    const out: HeaderField[] = [];
    let placed = false;
    for (const x of this.#fields) {
      if (x.key !== f.key) out.push(x);
      else if (!placed) {
        out.push(f);
        placed = true;
      }
    }
    if (!placed) out.push(f);
    this.#fields = out;
    return this;
  }

  /** Removes every line of this header; returns how many were removed. */
  remove(name: string): number {
    const key = headerKey(name);
    const before = this.#fields.length;
    this.#fields = this.#fields.filter((f) => f.key !== key);
    return before - this.#fields.length;
  }

  /** Removes only the first line of this header (e.g. the topmost Route). */
  removeFirst(name: string): boolean {
    const key = headerKey(name);
    const idx = this.#fields.findIndex((f) => f.key === key);
    if (idx < 0) return false;
    this.#fields.splice(idx, 1);
    return true;
  }

  clone(): SipHeaders {
    const c = new SipHeaders();
    c.#fields = this.#fields.slice();
    return c;
  }
}

export interface SipRequest {
  readonly kind: 'request';
  method: string;
  /** Parsed Request-URI; this is what the serializer writes. */
  uri: Uri;
  /** Request-URI text as received (informational; not used when writing). */
  readonly uriRaw: string;
  readonly version: 'SIP/2.0';
  headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  readonly kind: 'response';
  status: number;
  reason: string;
  readonly version: 'SIP/2.0';
  headers: SipHeaders;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

/** Methods of RFC 3261 and its common extensions (PRACK, SUBSCRIBE, NOTIFY, ...). */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY',
  'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE',
]);
