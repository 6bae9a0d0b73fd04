/**
 * `kadsip start`: configuration from defaults, --config, KADSIP_* and flags; then the node runs
 * until SIGTERM or SIGINT, on which it leaves gracefully (hands its records over) and exits 0.
 */
import { ConfigError, inputFromEnv, inputFromFile, resolveConfig, type ConfigInput } from '../node/config.js';
import { KadsipNode } from '../node/kadsip-node.js';
import { createLogger } from '../node/logger.js';

export interface StartFlags {
  listen?: string;
  transports?: string;
  bootstrap?: string;
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
}

export async function runStart(flags: StartFlags): Promise<number> {
  let config;
  try {
    const fromFile: ConfigInput = flags.config ? inputFromFile(flags.config) : {};
    config = resolveConfig(fromFile, inputFromEnv(process.env), {
      listen: flags.listen,
      transports: flags.transports,
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
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`kadsip start: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  let node: KadsipNode;
  try {
    node = await KadsipNode.start({ config, logger: log });
  } catch (e) {
    log.fatal({ err: e }, 'node failed to start');
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
          log.error({ err: e }, 'error while leaving');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
