// The Envoy configurations the e2e suite runs besides the default one generated from
// envoy/envoy.yaml. test/deploy/envoy-validate.test.ts checks each with the real
// `envoy --mode validate`.
import { httpFilter, type JsonObject } from '../../stack/configs';

export interface EnvoyVariant {
  name: string;
  adjust: (config: JsonObject) => void;
}

/** ext_authz sends headers as the comma-joined map instead of one entry per line. */
export const JOINED_HEADERS: EnvoyVariant = {
  name: 'encode_raw_headers false',
  adjust: (config) => {
    httpFilter(config, 'envoy.filters.http.ext_authz').encode_raw_headers = false;
  },
};

/**
 * ext_authz timeout 1s (the shipped 0.5s leaves the service a margin of a tenth of that, which a
 * loaded CI machine can eat): the slowed-Kratos scenario checks that the service answers first.
 */
export const EXT_AUTHZ_TIMEOUT_1S: EnvoyVariant = {
  name: 'ext_authz timeout 1s',
  adjust: (config) => {
    const grpc = httpFilter(config, 'envoy.filters.http.ext_authz').grpc_service;
    if (typeof grpc !== 'object' || grpc === null || Array.isArray(grpc))
      throw new Error('ext_authz has no grpc_service');
    grpc.timeout = '1s';
  },
};

export const ENVOY_VARIANTS: readonly EnvoyVariant[] = [JOINED_HEADERS, EXT_AUTHZ_TIMEOUT_1S];
