/**
 * The parts of drachtio-srf 5's request and response objects the plugin uses, as structural types:
 * the plugin does not import drachtio-srf (an optional peer dependency), and its bundled types
 * (lib/@types) omit what the middleware needs (`req.msg.raw`, `req.proxy`'s options). Names and
 * shapes follow drachtio-srf's lib/request.js and lib/response.js.
 */

/** Options of `req.proxy` / `srf.proxyRequest` (drachtio-srf lib/request.js, `Request~proxyOptions`). */
export interface SrfProxyOptions {
  /** SIP URIs to send the request to, in order; drachtio-server keeps the Request-URI unless it names drachtio itself. */
  destination: string[];
  /** Stay in the dialog: drachtio-server adds a Record-Route naming itself (alias `remainInDialog`). */
  recordRoute?: boolean;
  /** `simultaneous` forks to every destination at once; default sequential. */
  forking?: 'sequential' | 'simultaneous';
  /** Move to the next destination when nothing (not even 100 Trying) came back within this long ('2s', '1500ms'). */
  provisionalTimeout?: string;
  finalTimeout?: string;
  followRedirects?: boolean;
}

/** What `req.proxy` resolves with (drachtio-srf lib/request.js). */
export interface SrfProxyResult {
  connected: boolean;
  finalStatus?: number;
}

/** An incoming request as drachtio-srf hands it to middleware. */
export interface SrfRequest {
  readonly method: string;
  /** The Request-URI, as text. */
  readonly uri: string;
  /** Where the request came from, as drachtio-server saw it. */
  readonly source_address: string;
  readonly source_port: number;
  /** 'udp', 'tcp', 'tls', 'ws' or 'wss'. */
  readonly protocol: string;
  /** The whole message; `raw` is its text as drachtio-server passed it on. */
  readonly msg: { readonly raw?: string };
  /** A header's value ('' or undefined when absent). */
  get(name: string): string | undefined;
  proxy(opts: SrfProxyOptions): Promise<SrfProxyResult>;
}

/** The response object paired with an incoming request. */
export interface SrfResponse {
  send(status: number, reason?: string, opts?: { headers?: Record<string, string> }): void;
}

/** connect-style `next`, as drachtio-srf's middleware chain passes it. */
export type SrfNext = (err?: unknown) => void;

/** A drachtio-srf middleware function: `srf.use('register', fn)`, `srf.register(fn)`, `srf.invite(fn)`. */
export type SrfMiddleware = (req: SrfRequest, res: SrfResponse, next?: SrfNext) => void;
