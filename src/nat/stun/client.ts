/**
 * STUN Binding client over UDP (RFC 8489 §6.2.1, §6.3.3, §6.3.4): learns the server-reflexive
 * transport address of a socket. With `opts.socket` it runs on an existing socket (e.g. the one
 * that carries a node's SIP traffic, so the mapped port is that socket's): it adds one 'message'
 * listener, picks out the response by transaction ID, and removes the listener when done, leaving
 * other listeners undisturbed. Without it, it opens (and closes) a socket of its own.
 */
import { hostPort } from '../../common/host-port.js';
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { MAX_LOAD } from '../../common/load.js';
import { toTransportAddress, type TransportAddress } from './address.js';
import { decodeStun, encodeStun, getAddress, getAttribute, getErrorCode, getText, isStunPacket, type EncodableAttribute, type StunMessage } from './codec.js';
import { Attr, StunClass, StunMethod, TRANSACTION_ID_LENGTH } from './constants.js';

export interface StunEndpoint {
  readonly host: string;
  readonly port: number;
}

/** RFC 8489 §6.2.1 defaults: RTO 500 ms, Rc = 7 requests, Rm = 16 (fail 39.5 s after the first). */
export const DEFAULT_RTO_MS = 500;
export const DEFAULT_RC = 7;
export const DEFAULT_RM = 16;
export const DEFAULT_TIMEOUT_MS = 39_500;

export interface StunBindingOptions {
  /** Local address and port to bind a socket of our own (ignored when `socket` is given). */
  readonly localHost?: string;
  readonly localPort?: number;
  /** Run the transaction on this (bound or not yet bound) socket instead of a socket of our own. */
  readonly socket?: Socket;
  /** Hard bound on the whole transaction, in ms; default 39 500 (the RFC schedule's end). */
  readonly timeoutMs?: number;
  /** Initial retransmission timeout, doubled after each retransmission (§6.2.1); default 500 ms. */
  readonly rto?: number;
  /** Rc: requests sent at most, 1-7 (§6.2.1); default 7. */
  readonly maxRequests?: number;
  /** Rm: after the last request, wait Rm x initial RTO for the response (§6.2.1); default 16. */
  readonly rm?: number;
  /** SOFTWARE attribute on the request (§14.14); none by default. */
  readonly software?: string;
  /** Discard responses without FINGERPRINT (§14.7). A FINGERPRINT present is always checked. */
  readonly requireFingerprint?: boolean;
  readonly signal?: AbortSignal;
  /**
   * A load query (KADSIP-LOAD in the request): a kadsip server answers with its load figure and
   * does not count this request as a client's. Other servers answer a plain Binding.
   */
  readonly queryLoad?: boolean;
}

export interface StunBindingResult {
  /** Server-reflexive address: XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS from an old server). */
  readonly mapped: TransportAddress;
  /**
   * Time from the latest transmission to the response. When `transmissions` > 1 the sample is
   * ambiguous (Karn's algorithm: do not feed it into an RTO estimate).
   */
  readonly rttMs: number;
  readonly transmissions: number;
  /** The local address of the socket used, when it could be read. */
  readonly local?: TransportAddress;
  /** The server's SOFTWARE, if any. */
  readonly software?: string;
  /** The server's load figure, when it answered a load query with one (0..MAX_LOAD). */
  readonly load?: number;
}

export type StunBindingFailure = 'timeout' | 'error-response' | 'bad-response' | 'send-failed' | 'socket-error' | 'aborted';

export class StunBindingError extends Error {
  override readonly name = 'StunBindingError';
  constructor(
    readonly reason: StunBindingFailure,
    message: string,
    /** ERROR-CODE of an error response (§14.8), e.g. 420 or 300. */
    readonly errorCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function clampInt(v: number | undefined, def: number, min: number, max: number): number {
  if (v === undefined || !Number.isFinite(v)) return def;
  return Math.min(max, Math.max(min, Math.floor(v)));
}

/** Sends a Binding request to `server` and resolves with the mapped address (RFC 8489 §3, §6.2.1). */
export async function stunBinding(server: StunEndpoint, opts: StunBindingOptions = {}): Promise<StunBindingResult> {
  if (opts.signal?.aborted === true) throw new StunBindingError('aborted', 'STUN Binding aborted');
  if (opts.socket !== undefined) return runTransaction(opts.socket, server, opts, false);
  const socket = createSocket({ type: isIPv6(server.host) ? 'udp6' : 'udp4' });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(opts.localPort ?? 0, opts.localHost, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    socket.close();
    throw new StunBindingError('socket-error', `cannot bind STUN client socket: ${String(err)}`, undefined, { cause: err });
  }
  try {
    return await runTransaction(socket, server, opts, true);
  } finally {
    socket.close();
  }
}

function localAddress(socket: Socket): TransportAddress | undefined {
  try {
    const a = socket.address();
    return toTransportAddress(a.address, a.port);
  } catch {
    return undefined; // not bound
  }
}

function runTransaction(socket: Socket, server: StunEndpoint, opts: StunBindingOptions, ownSocket: boolean): Promise<StunBindingResult> {
  const rto = clampInt(opts.rto, DEFAULT_RTO_MS, 1, 60_000);
  const maxRequests = clampInt(opts.maxRequests, DEFAULT_RC, 1, DEFAULT_RC);
  const rm = clampInt(opts.rm, DEFAULT_RM, 1, 64);
  const timeoutMs = clampInt(opts.timeoutMs, DEFAULT_TIMEOUT_MS, 1, 600_000);
  // §6.2.1 (and §5): a transaction ID uniformly and randomly chosen from 0 to 2^96 - 1.
  const transactionId = randomBytes(TRANSACTION_ID_LENGTH);
  const attributes: EncodableAttribute[] = [];
  if (opts.software !== undefined) attributes.push({ kind: 'text', type: Attr.SOFTWARE, value: opts.software });
  if (opts.queryLoad === true) attributes.push({ kind: 'raw', type: Attr.KADSIP_LOAD, value: new Uint8Array(0) });
  const request = encodeStun({ method: StunMethod.Binding, cls: StunClass.Request, transactionId, attributes, fingerprint: true });

  return new Promise<StunBindingResult>((resolve, reject) => {
    let transmissions = 0;
    let lastSentAt = 0;
    let retransmitTimer: NodeJS.Timeout | undefined;
    let done = false;

    const finish = (outcome: { ok: true; value: StunBindingResult } | { ok: false; error: StunBindingError }): void => {
      if (done) return;
      done = true;
      clearTimeout(retransmitTimer);
      clearTimeout(deadline);
      socket.off('message', onMessage);
      if (ownSocket) socket.off('error', onSocketError);
      opts.signal?.removeEventListener('abort', onAbort);
      if (outcome.ok) resolve(outcome.value);
      else reject(outcome.error);
    };
    const failWith = (reason: StunBindingFailure, message: string, errorCode?: number, cause?: unknown): void =>
      finish({ ok: false, error: new StunBindingError(reason, message, errorCode, cause === undefined ? undefined : { cause }) });

    const transmit = (): void => {
      if (done) return;
      transmissions++;
      lastSentAt = performance.now();
      socket.send(request, server.port, server.host, (err) => {
        if (err) failWith('send-failed', `STUN request to ${hostPort(server.host, server.port)} not sent: ${err.message}`, undefined, err);
      });
      // §6.2.1: wait RTO, doubling each time; after the Rc-th request wait Rm x RTO.
      const wait = transmissions < maxRequests ? rto * 2 ** (transmissions - 1) : rm * rto;
      retransmitTimer = setTimeout(transmissions < maxRequests ? transmit : onTimeout, wait);
    };
    const onTimeout = (): void =>
      failWith('timeout', `no STUN response from ${hostPort(server.host, server.port)} after ${transmissions} request(s)`);
    const onAbort = (): void => failWith('aborted', 'STUN Binding aborted');
    const onSocketError = (err: Error): void => failWith('socket-error', `STUN client socket error: ${err.message}`, undefined, err);

    const onMessage = (msg: Buffer, _rinfo: RemoteInfo): void => {
      if (done || !isStunPacket(msg)) return;
      const decoded = decodeStun(msg);
      // §6.3: discard what fails the checks (including a bad FINGERPRINT) and what is not ours.
      if (!decoded.ok || !decoded.message.transactionId.equals(transactionId)) return;
      const res = decoded.message;
      if (res.method !== StunMethod.Binding) return;
      if (res.cls !== StunClass.SuccessResponse && res.cls !== StunClass.ErrorResponse) return;
      if (opts.requireFingerprint === true && !res.hasFingerprint) return;
      handleResponse(res);
    };

    const handleResponse = (res: StunMessage): void => {
      const rttMs = performance.now() - lastSentAt;
      if (res.cls === StunClass.ErrorResponse) {
        // §6.3.4: the transaction fails; the caller may act on the code (e.g. 300 Try Alternate).
        const ec = getErrorCode(res);
        if (ec === undefined) return failWith('bad-response', 'STUN error response without ERROR-CODE');
        return failWith('error-response', `STUN error ${ec.code} ${ec.reason}`, ec.code);
      }
      // §6.3.3: unknown comprehension-required attributes in a success response fail the transaction.
      if (res.unknownRequired.length > 0) {
        return failWith('bad-response', `STUN response with unknown attributes ${res.unknownRequired.map((t) => `0x${t.toString(16)}`).join(',')}`);
      }
      // §14.2 XOR-MAPPED-ADDRESS; §14.1 MAPPED-ADDRESS from RFC 3489-era servers.
      const mapped = getAddress(res, Attr.XOR_MAPPED_ADDRESS) ?? getAddress(res, Attr.MAPPED_ADDRESS);
      if (mapped === undefined) return failWith('bad-response', 'STUN success response without a mapped address');
      const local = localAddress(socket);
      const software = getText(res, Attr.SOFTWARE);
      const load = loadOf(res);
      finish({
        ok: true,
        value: {
          mapped,
          rttMs,
          transmissions,
          ...(local === undefined ? {} : { local }),
          ...(software === undefined ? {} : { software }),
          ...(load === undefined ? {} : { load }),
        },
      });
    };

    const deadline = setTimeout(onTimeout, timeoutMs);
    socket.on('message', onMessage);
    if (ownSocket) socket.on('error', onSocketError);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    transmit();
  });
}

/** KADSIP-LOAD of a response: a 32-bit figure up to MAX_LOAD, else none (a malformed one is ignored). */
function loadOf(res: StunMessage): number | undefined {
  const a = getAttribute(res, Attr.KADSIP_LOAD);
  if (a?.kind !== 'raw' || a.value.length !== 4) return undefined;
  const n = Buffer.from(a.value).readUInt32BE(0);
  return n <= MAX_LOAD ? n : undefined;
}
