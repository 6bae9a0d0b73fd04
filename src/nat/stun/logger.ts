/** The STUN modules take the project's one logger shape (src/common/logger.ts). */
export type { Logger as StunLogger, LogFn as StunLogFn } from '../../common/logger.js';
export { SILENT_LOGGER } from '../../common/logger.js';
