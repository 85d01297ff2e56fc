import type { StackPorts } from '../../stack/configs';

/** Distinct ports for configs that are generated and read, never bound (validation, comparisons). */
export const SAMPLE_PORTS: StackPorts = {
  envoy: 18080,
  envoyAdmin: 19901,
  kratosPublic: 14433,
  kratosAdmin: 14434,
  extAuthzGrpc: 19191,
  extAuthzHttp: 19192,
  upstream: 18000,
  ui: 14455,
};
