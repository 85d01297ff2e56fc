import type { Config } from '../config/schema';
import type { Logger } from './logger';
import type * as OtelTracing from './otel-tracing';
import { NO_TRACING, type Tracing } from './tracing';

/**
 * tracing.enabled picks OpenTelemetry, unless OTEL_SDK_DISABLED=true (the standard off switch).
 * The SDK is only loaded then: it adds about 18 MiB of RSS (3 MiB of heap), which a service
 * that does not trace should not carry (README, "Memory").
 */
export function startTracing(
  settings: Config['tracing'],
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Tracing {
  if (!settings.enabled) return NO_TRACING;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') {
    logger.warn('tracing.enabled is true but OTEL_SDK_DISABLED=true: not tracing');
    return NO_TRACING;
  }
  const { createOtelTracing } = require('./otel-tracing') as typeof OtelTracing;
  return createOtelTracing(settings, logger, env);
}
