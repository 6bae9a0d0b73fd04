/**
 * Route handling: the preprocessing of RFC 3261 16.4 (strict-router fix-up, popping our own Route),
 * the postprocessing of 16.6 step 6 (next hop a strict router) and the next-hop choice of 16.6
 * step 7. Route lines are edited in place where possible, so values we do not touch are forwarded
 * byte for byte.
 */
import {
  SipHeaders,
  getUriParam,
  hostForSocket,
  parseNameAddrList,
  serializeNameAddr,
  serializeUri,
  type NameAddr,
  type SipRequest,
  type Uri,
} from '../sip/message/index.js';
import type { Endpoint } from '../sip/transport/index.js';
import type { SelfAddresses } from './self.js';

/** A copy whose headers can be edited without touching the original (which the server transaction keeps). */
export function copyRequest(req: SipRequest, uri: Uri = req.uri): SipRequest {
  return { kind: 'request', method: req.method, uri, uriRaw: serializeUri(uri), version: 'SIP/2.0', headers: req.headers.clone(), body: req.body };
}

function routeLines(h: SipHeaders): number[] {
  const out: number[] = [];
  h.entries().forEach((f, i) => {
    if (f.key === 'route') out.push(i);
  });
  return out;
}

/** Replaces line `index` by `values` (none: removes it). */
function replaceLine(h: SipHeaders, index: number, values: readonly NameAddr[]): SipHeaders {
  const out = new SipHeaders();
  h.entries().forEach((f, i) => {
    if (i !== index) out.append(f.name, f.value);
    else if (values.length > 0) out.append(f.name, values.map(serializeNameAddr).join(', '));
  });
  return out;
}

/** Removes and returns the first (or last) Route value; undefined when there is none or it does not parse. */
export function popRoute(req: SipRequest, which: 'first' | 'last'): NameAddr | undefined {
  const lines = routeLines(req.headers);
  const index = which === 'first' ? lines[0] : lines[lines.length - 1];
  if (index === undefined) return undefined;
  const field = req.headers.entries()[index];
  if (field === undefined) return undefined;
  const parsed = parseNameAddrList(field.value);
  if (!parsed.ok) return undefined;
  const values = parsed.value.slice(); // the parsed list is shared (memoized): never mutate it
  const taken = which === 'first' ? values.shift() : values.pop();
  req.headers = replaceLine(req.headers, index, values);
  return taken;
}

export function firstRoute(req: SipRequest): NameAddr | undefined {
  const line = req.headers.get('route');
  if (line === undefined) return undefined;
  const parsed = parseNameAddrList(line);
  return parsed.ok ? parsed.value[0] : undefined;
}

/**
 * 16.4 on a copy of `req`: (a) when the Request-URI is a Record-Route value of ours, a strict router
 * upstream put it there: the real Request-URI is the last Route value, moved back; (b) while the first
 * Route value is one of our addresses, it is removed (a loose router sent the request to us by it). The npm `sip`
 * package crashes sending a request whose top Route is itself; we never do, because of (b).
 */
export function preprocessRoutes(req: SipRequest, self: SelfAddresses): SipRequest {
  const copy = copyRequest(req);
  if (self.isOwnRecordRoute(copy.uri) && copy.headers.has('route')) {
    const last = popRoute(copy, 'last');
    if (last !== undefined) {
      copy.uri = last.uri;
      return preprocessTop(copy, self);
    }
  }
  return preprocessTop(copy, self);
}

function preprocessTop(copy: SipRequest, self: SelfAddresses): SipRequest {
  // Several Route values of ours in a row: our two Record-Route values of RFC 5658 (the address
  // facing each side, section 3 has us pop both), or a spiral we record-routed twice.
  for (let i = 0; i < 8; i++) {
    const top = firstRoute(copy);
    if (top === undefined || !self.isSelfUri(top.uri)) break;
    popRoute(copy, 'first');
  }
  return copy;
}

/**
 * 16.6 step 6: when the first Route value has no `lr`, the next hop is a strict router: the
 * Request-URI goes to the end of the Route set and the first Route value becomes the Request-URI.
 * Returns the URI the next hop is taken from (16.6 step 7): the first Route value or, for a strict
 * router, the new Request-URI; undefined when no Route remains (the target's destination applies).
 */
export function postprocessRoutes(copy: SipRequest): Uri | undefined {
  const top = firstRoute(copy);
  if (top === undefined) return undefined;
  if (getUriParam(top.uri, 'lr') !== undefined) return top.uri;
  popRoute(copy, 'first');
  copy.headers.append('Route', `<${serializeUri(copy.uri)}>`);
  copy.uri = top.uri;
  return top.uri;
}

/**
 * Transport address of a SIP URI whose host is an IP literal (RFC 3263 4.1/4.2 for numeric hosts:
 * transport param, else UDP). A sips: URI means TLS (over TCP, RFC 5630 section 3.1.3: `;transport=tcp`
 * on a sips: URI is still TLS), default port 5061; `;transport=tls` on a sip: URI is TLS too.
 * Undefined for a host name (the resolver's job) or a transport we lack.
 */
export function numericEndpoint(uri: Uri): Endpoint | undefined {
  if (uri.kind !== 'sip' || uri.hostKind === 'domain') return undefined;
  const sips = uri.scheme.toLowerCase() === 'sips';
  const t = getUriParam(uri, 'transport')?.toLowerCase();
  let protocol: Endpoint['protocol'];
  if (t === undefined || t === null) protocol = sips ? 'tls' : 'udp';
  else if (t === 'udp' && !sips) protocol = 'udp';
  else if (t === 'tcp') protocol = sips ? 'tls' : 'tcp';
  else if (t === 'tls') protocol = 'tls';
  else return undefined;
  return { protocol, host: hostForSocket(uri.host), port: uri.port ?? (sips ? 5061 : 5060) };
}
