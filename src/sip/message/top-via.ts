/**
 * Rewriting the topmost Via value: a server transport stamps received/rport on it (RFC 3261
 * 18.2.1, RFC 3581), a proxy removes its own from a response (16.7 step 3). Only that value
 * changes: a Via line holding several comma-separated values keeps the others, and every other
 * header line is kept as it is.
 */
import { parseVia, serializeVia, type Via } from './headers.js';
import { SipHeaders } from './message.js';

export interface TopViaEdit {
  /** The headers with the top Via value replaced (or removed). */
  readonly headers: SipHeaders;
  /** The top Via value as it was. */
  readonly top: Via;
}

/**
 * `edit` gets the top Via value and returns its replacement, null to remove it, or the same value
 * to leave the headers as they are (then returned as given, not copied). Undefined when there is no
 * readable Via; the given headers are never modified.
 */
export function editTopVia(headers: SipHeaders, edit: (top: Via) => Via | null): TopViaEdit | undefined {
  const fields = headers.entries();
  const idx = fields.findIndex((f) => f.key === 'via');
  const line = fields[idx];
  if (line === undefined) return undefined;
  const parsed = parseVia(line.value);
  if (!parsed.ok) return undefined;
  const [top, ...rest] = parsed.value;
  if (top === undefined) return undefined;
  const replacement = edit(top);
  if (replacement === top) return { headers, top }; // unchanged: no copy (the receive path, mostly)
  const values = replacement === null ? rest : [replacement, ...rest];
  const out = new SipHeaders();
  fields.forEach((f, i) => {
    if (i !== idx) out.append(f.name, f.value);
    else if (values.length > 0) out.append(f.name, values.map(serializeVia).join(', '));
  });
  return { headers: out, top };
}
