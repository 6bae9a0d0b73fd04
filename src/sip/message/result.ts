/**
 * Result type shared by every parser of this layer. Parsers return errors as
 * values: a malformed message is an ordinary input for a proxy, not an
 * exceptional one, and a throw would bypass the 400 the sender is owed.
 */
export interface SyntaxFault {
  /** Human-readable description, suitable for a Warning header or a log. */
  readonly message: string;
}

export type Result<T, E = SyntaxFault> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail(message: string): { ok: false; error: SyntaxFault } {
  return { ok: false, error: { message } };
}
