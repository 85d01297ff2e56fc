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

export const ENVOY_VARIANTS: readonly EnvoyVariant[] = [JOINED_HEADERS];
