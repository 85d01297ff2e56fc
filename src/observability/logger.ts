import pino, { type Logger } from 'pino';
import type { Config } from '../config/schema';

export type { Logger };

/**
 * JSON lines on stdout. Nothing in this service hands a header, cookie, token or query string
 * to the logger; the redact list is a second line of defence should a future change do so.
 */
export function createLogger(config: Config['log'], destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name: 'kratos-ext-authz',
    level: config.level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['cookie', 'authorization', '["x-session-token"]', '*.cookie', '*.authorization', '*["x-session-token"]', 'headers', '*.headers'], censor: '[redacted]' },
  };
  if (destination) return pino(options, destination);
  if (config.pretty && isInstalled('pino-pretty')) return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  const logger = pino(options);
  // pino-pretty is a development dependency: a production install keeps JSON lines.
  if (config.pretty) logger.warn('log.pretty is set but pino-pretty is not installed: logging JSON lines');
  return logger;
}

function isInstalled(moduleName: string): boolean {
  try {
    require.resolve(moduleName);
    return true;
  } catch {
    return false;
  }
}
