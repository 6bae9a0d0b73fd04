/**
 * Cuts a byte stream (TCP, TLS) into SIP messages using Content-Length,
 * which streams require (RFC 3261 section 18.3). Sans-IO: feed chunks with
 * push(), act on the returned items. After an 'error' item the stream cannot
 * be re-synchronised: answer (if error.canReply) and close the connection.
 */
import { TextDecoder } from 'node:util';
import { contentLengthOf, splitHeaderSection } from './header-section.js';
import { DEFAULT_PARSE_OPTIONS, parseMessage, type MessageParseError, type ParseOptions, type ParseResult } from './parse.js';

export type FramedItem =
  /** One whole message; `result` may still be a per-message error (e.g. missing To) that leaves the stream usable. */
  | { readonly kind: 'message'; readonly result: ParseResult; readonly raw: Buffer }
  /** A CRLFCRLF keep-alive ping (RFC 5626 section 3.5.1): answer with a single CRLF pong. */
  | { readonly kind: 'ping' }
  /** Framing is lost: answer if possible, then close. */
  | { readonly kind: 'error'; readonly error: MessageParseError };

const latin1 = new TextDecoder('latin1');
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

export class StreamFramer {
  readonly #opts: Required<ParseOptions>;
  #buf: Buffer = Buffer.alloc(0);
  #closed = false;

  constructor(opts: Omit<ParseOptions, 'transport'> = {}) {
    this.#opts = { ...DEFAULT_PARSE_OPTIONS, ...opts, transport: 'stream' };
  }

  /** True after a framing error: further input is ignored. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes received but not yet part of a whole message. */
  get buffered(): number {
    return this.#buf.length;
  }

  push(chunk: Buffer): FramedItem[] {
    if (this.#closed) return [];
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: FramedItem[] = [];
    for (;;) {
      const item = this.#next();
      if (item === null) break;
      out.push(item);
      if (item.kind === 'error') {
        this.#closed = true;
        this.#buf = Buffer.alloc(0);
        break;
      }
    }
    return out;
  }

  #next(): FramedItem | null {
    // Keep-alives between messages: CRLFCRLF is a ping; a lone CRLF (a pong,
    // or padding) is skipped. A lone CRLF at the end waits for more data.
    while (this.#buf[0] === 0x0d && this.#buf[1] === 0x0a) {
      if (this.#buf[2] === 0x0d && this.#buf[3] === 0x0a) {
        this.#buf = this.#buf.subarray(4);
        return { kind: 'ping' };
      }
      if (this.#buf.length < 4) return null;
      this.#buf = this.#buf.subarray(2);
    }
    if (this.#buf.length === 0) return null;

    const headEnd = this.#buf.indexOf(CRLFCRLF);
    if (headEnd < 0) {
      if (this.#buf.length > this.#opts.maxMessageSize) {
        return this.#fail(513, 'Message Too Large', 'header section exceeds the size limit');
      }
      return null;
    }
    // Content-Length is ASCII, so a latin1 view is enough to frame; the full
    // UTF-8 check happens in parseMessage.
    const section = splitHeaderSection(latin1.decode(this.#buf.subarray(0, headEnd)), this.#opts);
    if (!section.ok) return this.#fail(400, 'Bad Request', section.error.message);
    const cl = contentLengthOf(section.value.fields);
    if (!cl.ok) return this.#fail(400, 'Invalid Content-Length', cl.error.message);
    if (cl.value === null) return this.#fail(400, 'Missing Content-Length', 'Content-Length is required on streams');
    const total = headEnd + 4 + cl.value;
    if (total > this.#opts.maxMessageSize) {
      return this.#fail(413, 'Request Entity Too Large', `message of ${total} bytes exceeds the size limit`);
    }
    if (this.#buf.length < total) return null;
    const raw = Buffer.from(this.#buf.subarray(0, total));
    this.#buf = this.#buf.subarray(total);
    return { kind: 'message', raw, result: parseMessage(raw, this.#opts) };
  }

  #fail(status: 400 | 413 | 513, reason: string, warning: string): FramedItem {
    // Reply context is only available when the header section parses; the
    // message is re-read with the datagram rules to get it.
    const end = this.#buf.indexOf(CRLFCRLF);
    let replyTo: MessageParseError['replyTo'];
    if (end >= 0) {
      const r = parseMessage(this.#buf.subarray(0, end + 4), { ...this.#opts, transport: 'datagram' });
      replyTo = r.ok ? (r.message.kind === 'request' ? { method: r.message.method, headers: r.message.headers } : undefined) : r.error.replyTo;
    }
    const error: MessageParseError = {
      status,
      reason,
      warning,
      code: status === 400 ? 'framing' : 'too-large',
      canReply: replyTo !== undefined,
      ...(replyTo !== undefined ? { replyTo } : {}),
    };
    return { kind: 'error', error };
  }
}
