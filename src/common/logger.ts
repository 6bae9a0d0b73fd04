/**
 * The logger shape every module takes: pino-compatible (`logger.warn({ ...fields }, 'text')`), so the
 * node hands in a pino child and a library user or a test can hand in anything with these methods.
 */
export type LogFn = (obj: object, msg?: string) => void;

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error?: LogFn;
}

const noop: LogFn = () => {};

/** Logs nothing: for clients, benchmarks and tests that want no output. */
export const SILENT_LOGGER: Logger = { debug: noop, info: noop, warn: noop, error: noop };
