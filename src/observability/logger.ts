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
    redact: {
      paths: [
        'cookie',
        'authorization',
        '["x-session-token"]',
        '*.cookie',
        '*.authorization',
        '*["x-session-token"]',
        'headers',
        '*.headers',
      ],
      censor: '[redacted]',
    },
  };
  if (destination) return pino(options, destination);
  if (config.pretty && isInstalled('pino-pretty'))
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  // Synchronous writes: the service runs in a worker thread (server/heap-sized-worker.ts), where
  // pino's asynchronous default is not flushed on exit and the drain's last lines were lost; and
  // a stdout that does not keep up slows the service instead of growing a buffer without bound.
  const logger = pino(options, pino.destination({ dest: 1, sync: true }));
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
