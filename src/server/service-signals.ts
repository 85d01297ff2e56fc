/** The signals the service acts on: reload (SIGHUP) and drain (SIGTERM, SIGINT). */
export const SERVICE_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
export type ServiceSignal = (typeof SERVICE_SIGNALS)[number];

/** The service signal `message` names, if it is one (a worker is told them as messages). */
export function serviceSignalIn(message: unknown): ServiceSignal | undefined {
  return SERVICE_SIGNALS.find((candidate) => candidate === message);
}
