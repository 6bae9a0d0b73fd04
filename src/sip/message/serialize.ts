/**
 * Writes a message: canonical header names, CRLF line endings, and always a
 * Content-Length equal to the body's byte length (it replaces any stale one,
 * at the position of the first, so edits to the body can never mis-frame).
 */
import { canonicalHeaderName } from './header-names.js';
import type { SipMessage } from './message.js';
import { serializeUri } from './uri.js';

export function startLine(msg: SipMessage): string {
  return msg.kind === 'request'
    ? `${msg.method} ${serializeUri(msg.uri)} SIP/2.0`
    : `SIP/2.0 ${msg.status} ${msg.reason}`;
}

export function serializeMessage(msg: SipMessage): Buffer {
  const lines = [startLine(msg)];
  let lengthWritten = false;
  const contentLength = `Content-Length: ${msg.body.length}`;
  for (const f of msg.headers) {
    if (f.key === 'content-length') {
      if (!lengthWritten) lines.push(contentLength);
      lengthWritten = true;
      continue;
    }
    lines.push(`${canonicalHeaderName(f.name)}: ${f.value}`);
  }
  if (!lengthWritten) lines.push(contentLength);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
  // Most messages (REGISTER, their 200s, ACK, BYE) have no body: no second copy for them.
  return msg.body.length === 0 ? head : Buffer.concat([head, msg.body]);
}
