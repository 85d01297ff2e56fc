import http from 'node:http';
import https from 'node:https';
import { Configuration, FrontendApi, IdentityApi, type Identity } from '@ory/client';
import type { AxiosResponse, RawAxiosRequestConfig } from 'axios';
import type { Config } from '../config/schema';
import type { Credential } from '../request/credentials';
import { availableAalOf, type AdminIdentityCredentials } from './available-aal';
import { callBudget } from './budget';
import type { Aal, AvailableAalOutcome, AvailableAalSource, CallContext, SessionSource, WhoamiOutcome } from './types';

/** Called once per Kratos HTTP exchange, for metrics. `status` is the HTTP status or a failure word. */
export type KratosCallObserver = (endpoint: 'whoami' | 'identity', status: string, seconds: number) => void;

// whoami's 401 reason when DoesSessionSatisfy itself failed (e.g. a database error while loading
// the identity's credentials), not when the session is missing or dead (session/handler.go).
const AAL_UNDETERMINED_REASON = 'Unable to determine AAL.';

// Kratos answers in a few KB; a larger body is not a Kratos answer and must not fill memory.
const MAX_BODY_BYTES = 1024 * 1024;

export class KratosClient implements SessionSource, AvailableAalSource {
  private readonly frontend: FrontendApi;
  private readonly identities: IdentityApi | undefined;

  constructor(
    private readonly config: Config['kratos'],
    private readonly observe: KratosCallObserver = () => {},
  ) {
    // Idle sockets are closed before Kratos (Go) would close them, so a reused socket is not
    // reset under us; the socket cap bounds memory while Kratos is slow.
    const agentOptions = { keepAlive: true, timeout: 30_000, maxSockets: 512 };
    const baseOptions: RawAxiosRequestConfig = {
      httpAgent: new http.Agent(agentOptions),
      httpsAgent: new https.Agent(agentOptions),
      // Statuses are classified below; throwing for 401/403 would cost a stack trace per denial.
      validateStatus: () => true,
      maxRedirects: 0,
      maxContentLength: MAX_BODY_BYTES,
      // Kratos is an internal service: HTTP(S)_PROXY variables meant for egress must not reroute it.
      proxy: false,
    };
    this.frontend = new FrontendApi(new Configuration({ basePath: config.public_url, baseOptions }));
    this.identities = config.admin_url
      ? new IdentityApi(new Configuration({ basePath: config.admin_url, accessToken: config.admin_token || undefined, baseOptions }))
      : undefined;
  }

  async whoami(credential: Credential, context: CallContext): Promise<WhoamiOutcome> {
    const forwarded = credential.kind === 'cookie' ? { cookie: credential.value } : { xSessionToken: credential.value };
    const response = await this.call('whoami', context, (options) => this.frontend.toSession(forwarded, options));
    if ('failure' in response) return { kind: 'unavailable', detail: response.failure };
    switch (response.status) {
      case 200:
        return sessionFrom(response.data);
      case 401:
        // Treated as logged out, this would send the user to a login that bounces straight back.
        return errorFieldOf(response.data, 'reason') === AAL_UNDETERMINED_REASON
          ? { kind: 'unavailable', detail: 'whoami answered 401 "Unable to determine AAL."' }
          : { kind: 'unauthenticated' };
      case 403:
        return errorFieldOf(response.data, 'id') === 'session_aal2_required'
          ? { kind: 'aal_refused' }
          : { kind: 'unavailable', detail: 'whoami answered 403 without session_aal2_required' };
      default:
        return { kind: 'unavailable', detail: `whoami answered ${response.status}` };
    }
  }

  async availableAal(identityId: string, context: CallContext): Promise<AvailableAalOutcome> {
    const identities = this.identities;
    if (!identities) return { kind: 'unavailable', detail: 'kratos.admin_url is not set' };
    // Never include_credential=totp or lookup_secret: their configs are the secrets themselves.
    // code configs (addresses) only matter, and are only fetched, when code counts as MFA.
    const includeCredential: Array<'webauthn' | 'code'> = this.config.code_mfa_enabled ? ['webauthn', 'code'] : ['webauthn'];
    const response = await this.call('identity', context, (options) => identities.getIdentity({ id: identityId, includeCredential }, options));
    if ('failure' in response) return { kind: 'unavailable', detail: response.failure };
    if (response.status !== 200) return { kind: 'unavailable', detail: `admin identity answered ${response.status}` };
    return availableAalFrom(response.data, identityId, this.config.code_mfa_enabled);
  }

  private async call<T>(
    endpoint: 'whoami' | 'identity',
    context: CallContext,
    send: (options: RawAxiosRequestConfig) => Promise<AxiosResponse<T>>,
  ): Promise<AxiosResponse<T> | { failure: string }> {
    const budget = callBudget(this.config.timeout, context);
    if (budget <= 0) return { failure: 'no time left before the check deadline' };
    const started = performance.now();
    const headers: Record<string, string> = context.requestId && isHeaderSafe(context.requestId) ? { 'x-request-id': context.requestId } : {};
    try {
      const response = await send({ headers, timeout: budget, signal: AbortSignal.timeout(budget) });
      this.observe(endpoint, String(response.status), (performance.now() - started) / 1000);
      return response;
    } catch (error) {
      const failure = failureWord(error);
      this.observe(endpoint, failure, (performance.now() - started) / 1000);
      return { failure: `${endpoint} ${failure} after ${Math.round(performance.now() - started)}ms` };
    }
  }
}

/** A short, credential-free description of a transport failure. */
function failureWord(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED') return 'timeout';
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code.toLowerCase();
  return 'error';
}

function isHeaderSafe(value: string): boolean {
  return value.length <= 200 && /^[\x21-\x7e]+$/.test(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function errorFieldOf(body: unknown, field: 'id' | 'reason'): unknown {
  return isRecord(body) && isRecord(body.error) ? body.error[field] : undefined;
}

const AALS: ReadonlySet<unknown> = new Set<Aal>(['aal0', 'aal1', 'aal2']);

/** A whoami 200 is only trusted when it is a well-formed, active, unexpired session. */
function sessionFrom(body: unknown): WhoamiOutcome {
  if (!isRecord(body) || !isRecord(body.identity)) return { kind: 'unavailable', detail: 'whoami answered 200 without a session' };
  const { id, active, expires_at: expiresAt, authenticator_assurance_level: aal } = body;
  const identityId = body.identity.id;
  const expiry = typeof expiresAt === 'string' ? Date.parse(expiresAt) : NaN;
  if (typeof id !== 'string' || typeof identityId !== 'string' || typeof active !== 'boolean' || !AALS.has(aal) || Number.isNaN(expiry)) {
    return { kind: 'unavailable', detail: 'whoami answered 200 with a malformed session' };
  }
  if (!active || expiry <= Date.now()) return { kind: 'unauthenticated' };
  return { kind: 'active', session: { id, identityId, aal: aal as Aal, expiresAt: expiry } };
}

/** Only an answer about the identity that was asked for, in a state Kratos defines, is trusted. */
function availableAalFrom(body: Identity, identityId: string, codeMfaEnabled: boolean): AvailableAalOutcome {
  if (!isRecord(body) || body.id !== identityId) return { kind: 'unavailable', detail: 'admin identity answer is not an identity' };
  if (body.state === 'inactive') return { kind: 'identity_inactive' };
  if (body.state !== 'active') return { kind: 'unavailable', detail: 'admin identity answer has no identity state' };
  const credentials = isRecord(body.credentials) ? (body.credentials as AdminIdentityCredentials) : {};
  return { kind: 'known', aal: availableAalOf(credentials, codeMfaEnabled) };
}
