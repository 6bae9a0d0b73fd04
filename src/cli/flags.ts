/** What the one-shot `kadsip` commands share: reading an address flag, and failing with exit 2. */
import { ConfigError, parseHostPort, type HostPort } from '../node/config.js';

/** The flag's IP:PORT, or the message saying what is wrong with it. */
export function addressFlag(text: string, what: string, defaultPort: number): HostPort | string {
  try {
    return parseHostPort(text, what, defaultPort);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
}

/** A function that prints `kadsip COMMAND: message` on stderr and returns exit code 2. */
export function failer(command: string): (message: string) => number {
  return (message) => {
    process.stderr.write(`kadsip ${command}: ${message}\n`);
    return 2;
  };
}
