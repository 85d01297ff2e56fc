/**
 * Kratos's own whoami latency as the driver sees it (one keep-alive connection, one call at a
 * time): what a miss through the service adds on top of it is the service's.
 */
import http from 'node:http';

/**
 * The durations (µs) of `calls` sequential whoami calls, cycling through `credentials` (each a set of request headers),
 * `pauseMs` apart: a light probe that can run alongside a measured run, to see Kratos's own
 * latency under the same load.
 */
export async function whoamiLatency(
  publicUrl: string,
  credentials: ReadonlyArray<Record<string, string>>,
  calls: number,
  pauseMs = 0,
): Promise<Float64Array> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const durations: number[] = [];
  try {
    for (let i = 0; i < calls; i++) {
      const started = process.hrtime.bigint();
      const status = await new Promise<number>((resolve, reject) => {
        const request = http.get(
          `${publicUrl}/sessions/whoami`,
          { agent, headers: credentials[i % credentials.length] },
          (response) => {
            response.resume();
            response.on('end', () => resolve(response.statusCode ?? 0));
          },
        );
        request.on('error', reject);
      });
      if (status !== 200) throw new Error(`whoami answered ${status} while measuring Kratos's own latency`);
      durations.push(Number(process.hrtime.bigint() - started) / 1000);
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  } finally {
    agent.destroy();
  }
  return Float64Array.from(durations);
}
