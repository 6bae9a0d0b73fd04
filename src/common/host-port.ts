/**
 * Host and port as text, the one way kadsip writes them: in a Via sent-by, a URI, a peer address
 * (`IP:PORT`), a log line. An IPv6 literal takes brackets (RFC 3986 section 3.2.2, RFC 3261
 * section 25.1 `IPv6reference`) so the port's colon stays unambiguous.
 */

/** The host as it appears in a URI or before `:port`: an IPv6 literal in brackets (kept if already there). */
export function hostForWire(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** `host:port`, `[v6]:port` for an IPv6 literal. */
export function hostPort(host: string, port: number): string {
  return `${hostForWire(host)}:${port}`;
}
