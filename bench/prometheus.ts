/** Just enough of the Prometheus text format to diff the service's counters around a run. */
import http from 'node:http';

/** Sample value by `name{label="value",...}` with labels sorted, so lookups do not depend on output order. */
export type Samples = Map<string, number>;

export function sampleKey(name: string, labels: Record<string, string> = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((key) => `${key}="${labels[key]}"`);
  return parts.length > 0 ? `${name}{${parts.join(',')}}` : name;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    const match = LINE.exec(line);
    if (!match || line.startsWith('#')) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(LABEL)) labels[label[1] as string] = label[2] as string;
    samples.set(sampleKey(match[1] as string, labels), Number(match[3]));
  }
  return samples;
}

export function scrapeMetrics(httpPort: number): Promise<Samples> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port: httpPort, path: '/metrics', agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () =>
        response.statusCode === 200
          ? resolve(parsePrometheus(text))
          : reject(new Error(`/metrics answered ${response.statusCode}`)),
      );
    });
    request.on('error', reject);
  });
}

/** after − before for every sample of `name`, keyed as in Samples; zero deltas left out. */
export function counterDeltas(before: Samples, after: Samples, name: string): Map<string, number> {
  const deltas = new Map<string, number>();
  for (const [key, value] of after) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) deltas.set(key, delta);
  }
  return deltas;
}
