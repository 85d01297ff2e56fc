// Counters from Envoy's admin /stats: what Envoy itself saw of the authorizer and the upstream,
// independent of what the test's client counted.
export async function envoyCounters(adminUrl: string, prefix: string): Promise<Map<string, number>> {
  const response = await fetch(`${adminUrl}/stats?filter=${encodeURIComponent(`^${prefix.replaceAll('.', '\\.')}`)}`);
  if (response.status !== 200) throw new Error(`${adminUrl}/stats answered ${response.status}`);
  const counters = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match = /^([^:]+): (\d+)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) counters.set(match[1], Number(match[2]));
  }
  return counters;
}

/** A counter's value, 0 when Envoy has not created it yet (it creates counters on first use). */
export function counter(counters: ReadonlyMap<string, number>, name: string): number {
  return counters.get(name) ?? 0;
}

export const EXT_AUTHZ_STATS = 'http.ingress_http.ext_authz.';
export const UPSTREAM_STATS = 'cluster.upstream.upstream_rq_total';
