/** pino-compatible logger shape (`logger.warn({ ...fields }, 'text')`); methods used by the STUN modules. */
export type StunLogFn = (obj: object, msg?: string) => void;
export interface StunLogger {
  debug: StunLogFn;
  info: StunLogFn;
  warn: StunLogFn;
}

const noop: StunLogFn = () => {};
export const SILENT_LOGGER: StunLogger = { debug: noop, info: noop, warn: noop };
