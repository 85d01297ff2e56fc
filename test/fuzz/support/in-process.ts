/**
 * The service's check as it runs (read → decide → answer → encode), in process with a Kratos
 * stand-in, answered as Envoy reads it: the hand codec's bytes decoded with the official schema.
 * Fuzzing thousands of requests through gRPC would measure the network, not the readers.
 */
import { NO_TRACING } from '../../../src/observability/tracing';
import { parseConfig } from '../../../src/config/load';
import { createCheck } from '../../../src/envoy/check';
import { encodeCheckResponse } from '../../../src/envoy/codec';
import type { CheckRequest } from '../../../src/envoy/messages';
import type { KratosSession } from '../../../src/kratos/types';
import { compilePolicy } from '../../../src/policy/policy';
import { kratosCredentialExtractor } from '../../../src/request/credentials';
import { upstreamCredentialsReader } from '../../../src/upstream/upstream-credentials';
import type { OfficialCheckResponse } from '../../support/envoy-client';
import { official } from '../../support/official-schema';

const OfficialResponse = official.lookupType('envoy.service.auth.v3.CheckResponse');

export const BROWSER_URL = 'https://id.example.com';

export interface InProcessOptions {
  /** The `policy` and `return_to` sections, as in the YAML. */
  config: { policy?: unknown; return_to?: unknown };
  /** The session Kratos's whoami finds for a credential value, if any. */
  sessionOf?: (credential: string) => KratosSession | undefined;
}

export type InProcessCheck = (request: CheckRequest) => Promise<OfficialCheckResponse>;

export function inProcessCheck(options: InProcessOptions): InProcessCheck {
  const config = parseConfig({ ...options.config, kratos: { public_url: BROWSER_URL } }, {});
  const sessionOf = options.sessionOf ?? (() => undefined);
  const check = createCheck({
    decision: {
      policy: compilePolicy(config.policy),
      extractCredential: kratosCredentialExtractor(config.kratos.session_cookie),
      sessions: {
        whoami: async (credential) => {
          const session = sessionOf(credential.value);
          return session ? { kind: 'active', session } : { kind: 'unauthenticated' };
        },
      },
      identities: { availableAal: async () => ({ kind: 'known', aal: 'aal1' }) },
      whoamiEnforcesHighestAvailable: false,
      onKratosStricterThanPolicy: () => undefined,
    },
    loginUrl: { browserUrl: BROWSER_URL, allowedHosts: config.return_to.allowed_hosts },
    upstream: undefined,
    upstreamCredentials: upstreamCredentialsReader(config.kratos.session_cookie),
    observe: () => undefined,
    tracing: NO_TRACING,
  });
  return async (request) => {
    const bytes = encodeCheckResponse(await check(request, Infinity));
    return OfficialResponse.toObject(OfficialResponse.decode(bytes), {
      defaults: true,
      enums: Number,
      longs: String,
      oneofs: true,
    }) as OfficialCheckResponse;
  };
}
