/**
 * `kadsip start`: configuration from defaults, --config, KADSIP_* and flags; then the node runs
 * until SIGTERM or SIGINT, on which it leaves gracefully (hands its records over) and exits 0.
 */
import { hostPort } from '../common/host-port.js';
import { ConfigError, environmentSource, fileSource, flagSource, nameConfigError, resolveConfigFrom, type NodeConfig } from '../node/config.js';
import { KadsipNode, StartupError } from '../node/kadsip-node.js';
import { concreteListen } from '../node/listen-address.js';
import { createLogger } from '../node/logger.js';

export interface StartFlags {
  listen?: string;
  transports?: string;
  peerTransport?: string;
  tlsPort?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsMutual?: string;
  bootstrap?: string[];
  overlay?: string;
  domain?: string[];
  http?: string;
  config?: string;
  logLevel?: string;
  role?: string;
  stun?: string;
  turn?: string;
  candidatesWanted?: string;
  public?: string;
  discover?: string;
  caCert?: string;
  cert?: string;
  key?: string;
  crl?: string;
  overlaySecretFile?: string;
  rateLimit?: string;
  overlayRateLimit?: string;
  overloadUtilisation?: string;
  overloadLagMs?: string;
  overloadDepth?: string;
  trust?: string[];
  /** Commander's --no-dns-routing: false when given, true otherwise (then the other sources decide). */
  dnsRouting?: boolean;
  authFailures?: string;
  authFailureWindowS?: string;
  authCoolingOffS?: string;
}

/**
 * Exit codes (README "Running nodes"): 2 for a usage or configuration error (nothing was opened),
 * 1 for a failure at run time (a socket that cannot be bound, a bootstrap that refuses, an error
 * while leaving), 0 after a graceful leave. A failure is one human line on stderr; the stack trace
 * goes to the log at debug level only.
 */
export async function runStart(flags: StartFlags): Promise<number> {
  let config: NodeConfig;
  let replaced: string | undefined;
  try {
    const sources = [
      ...(flags.config ? [fileSource(flags.config)] : []),
      environmentSource(process.env),
      flagSource({
        listen: flags.listen,
        transports: flags.transports,
        peerTransport: flags.peerTransport,
        tlsPort: flags.tlsPort,
        tlsCert: flags.tlsCert,
        tlsKey: flags.tlsKey,
        tlsCa: flags.tlsCa,
        tlsMutual: flags.tlsMutual,
        bootstrap: flags.bootstrap,
        overlay: flags.overlay,
        domain: flags.domain,
        http: flags.http,
        logLevel: flags.logLevel,
        role: flags.role,
        stun: flags.stun,
        turn: flags.turn,
        candidatesWanted: flags.candidatesWanted,
        public: flags.public,
        discover: flags.discover,
        caCert: flags.caCert,
        cert: flags.cert,
        key: flags.key,
        crl: flags.crl,
        overlaySecretFile: flags.overlaySecretFile,
        rateLimit: flags.rateLimit,
        overlayRateLimit: flags.overlayRateLimit,
        overloadUtilisation: flags.overloadUtilisation,
        overloadLagMs: flags.overloadLagMs,
        overloadDepth: flags.overloadDepth,
        trust: flags.trust,
        dnsRouting: flags.dnsRouting === false ? false : undefined,
        authFailures: flags.authFailures,
        authFailureWindowS: flags.authFailureWindowS,
        authCoolingOffS: flags.authCoolingOffS,
      }),
    ];
    try {
      ({ config, replaced } = concreteListen(resolveConfigFrom(sources)));
    } catch (e) {
      throw nameConfigError(e, sources);
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`kadsip start: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  if (replaced) log.info({ listen: hostPort(config.listen.host, config.listen.port), wildcard: replaced }, 'listen address resolved to the host\'s one address');
  let node: KadsipNode;
  try {
    node = await KadsipNode.start({ config, logger: log });
  } catch (e) {
    const message = e instanceof StartupError ? e.message : `unexpected error: ${(e as Error).message}`;
    log.debug({ err: e }, 'start-up failed');
    process.stderr.write(`kadsip start: ${message}\n`);
    return 1;
  }
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'leaving gracefully');
      node.leave().then(
        () => {
          log.info('stopped');
          resolve(0);
        },
        (e: unknown) => {
          log.debug({ err: e }, 'error while leaving');
          process.stderr.write(`kadsip start: error while leaving: ${(e as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
