import type { Config } from '../config/schema';
import type { Credential } from '../request/credentials';
import { availableAalOf, type AdminIdentityCredentials } from './available-aal';
import { callBudget } from './budget';
import { STRICTER_CODE_MFA_RULE, type CodeMfa, type CodeMfaRule } from './code-mfa-rule';
import { JsonGet, type JsonGetResult } from './json-get';
import { readTraits } from './traits';
import { refreshedCookieOf } from './refreshed-cookie';
import {
  NO_CALL_TRACE,
  type Aal,
  type AvailableAalOutcome,
  type CallContext,
  type KratosEndpoint,
  type KratosSession,
  type WhoamiOutcome,
} from './types';
import type { AvailableAalSource, SessionSource } from './sources';

/** Called once per Kratos HTTP exchange, for metrics. `status` is the HTTP status or a failure word. */
export type KratosCallObserver = (endpoint: KratosEndpoint, status: string, seconds: number) => void;

// whoami's 401 reason when DoesSessionSatisfy itself failed (e.g. a database error while loading
// the identity's credentials), not when the session is missing or dead (session/handler.go).
const AAL_UNDETERMINED_REASON = 'Unable to determine AAL.';

export class KratosClient implements SessionSource, AvailableAalSource {
  private readonly publicApi: JsonGet;
  private readonly adminApi: JsonGet | undefined;
  private readonly adminHeaders: Record<string, string>;
  // Never include_credential=totp or lookup_secret: their configs are the secrets themselves.
  // code configs (addresses) only matter, and are only fetched, when code counts as MFA.
  private readonly identityQuery: string;

  constructor(
    private readonly config: Config['kratos'],
    private readonly observe: KratosCallObserver = () => {},
    /** The trait paths identity_headers and upstream_jwt.claims read, kept with each session. */
    private readonly traitPaths: readonly string[] = [],
    /** The code-MFA rule of the Kratos version talked to (kratos-version.ts), read per lookup. */
    private readonly codeMfaRule: () => CodeMfaRule = () => STRICTER_CODE_MFA_RULE,
  ) {
    this.publicApi = new JsonGet(config.public_url);
    this.adminApi = config.admin_url ? new JsonGet(config.admin_url) : undefined;
    this.adminHeaders = config.admin_token ? { authorization: `Bearer ${config.admin_token}` } : {};
    this.identityQuery = config.code_mfa_enabled
      ? '?include_credential=webauthn&include_credential=code'
      : '?include_credential=webauthn';
  }

  async whoami(credential: Credential, context: CallContext): Promise<WhoamiOutcome> {
    const headers: Record<string, string> =
      credential.kind === 'cookie' ? { cookie: credential.value } : { 'x-session-token': credential.value };
    const response = await this.call('whoami', this.publicApi, '/sessions/whoami', headers, context);
    if ('failure' in response) return { kind: 'unavailable', detail: response.failure };
    switch (response.status) {
      case 200: {
        const outcome = sessionFrom(response.body, this.traitPaths);
        if (outcome.kind !== 'active' || credential.kind !== 'cookie') return outcome;
        // Kratos renews only a cookie it was sent: a token's answer never carries one on.
        const refreshedCookie = refreshedCookieOf(response.setCookie, this.config.session_cookie);
        return refreshedCookie ? { ...outcome, refreshedCookie } : outcome;
      }
      case 401:
        // Treated as logged out, this would send the user to a login that bounces straight back.
        return errorFieldOf(response.body, 'reason') === AAL_UNDETERMINED_REASON
          ? { kind: 'unavailable', detail: 'whoami answered 401 "Unable to determine AAL."' }
          : { kind: 'unauthenticated' };
      case 403:
        return errorFieldOf(response.body, 'id') === 'session_aal2_required'
          ? { kind: 'aal_refused' }
          : { kind: 'unavailable', detail: 'whoami answered 403 without session_aal2_required' };
      default:
        return { kind: 'unavailable', detail: `whoami answered ${response.status}` };
    }
  }

  async availableAal(identityId: string, context: CallContext): Promise<AvailableAalOutcome> {
    if (!this.adminApi) return { kind: 'unavailable', detail: 'kratos.admin_url is not set' };
    const path = `/admin/identities/${encodeURIComponent(identityId)}${this.identityQuery}`;
    const response = await this.call('identity', this.adminApi, path, { ...this.adminHeaders }, context);
    if ('failure' in response) return { kind: 'unavailable', detail: response.failure };
    if (response.status !== 200) return { kind: 'unavailable', detail: `admin identity answered ${response.status}` };
    return availableAalFrom(response.body, identityId, this.config.code_mfa_enabled ? this.codeMfaRule() : 'off');
  }

  /** For a side a reload replaced: lets its last calls finish, then releases the keep-alive sockets. */
  async close(): Promise<void> {
    await Promise.all([this.publicApi.close(), this.adminApi?.close()]);
  }

  /** For a stop: calls still waiting for Kratos fail at once (their checks were already cut or answered). */
  async destroy(): Promise<void> {
    await Promise.all([this.publicApi.destroy(), this.adminApi?.destroy()]);
  }

  private async call(
    endpoint: KratosEndpoint,
    api: JsonGet,
    path: string,
    headers: Record<string, string>,
    context: CallContext,
  ): Promise<JsonGetResult> {
    const budget = callBudget(this.config.timeout, context);
    if (budget <= 0) return { failure: 'no time left before the check deadline' };
    const started = performance.now();
    headers.accept = 'application/json';
    if (context.requestId && isHeaderSafe(context.requestId)) headers['x-request-id'] = context.requestId;
    const span = (context.trace ?? NO_CALL_TRACE).startCall(endpoint, api.base, path, headers);
    const result = await api.get(path, headers, budget);
    span.end(result);
    const elapsed = performance.now() - started;
    this.observe(endpoint, 'failure' in result ? result.failure : String(result.status), elapsed / 1000);
    return 'failure' in result ? { failure: `${endpoint} ${result.failure} after ${Math.round(elapsed)}ms` } : result;
  }
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

/**
 * A whoami 200 is only trusted when it is a well-formed, active, unexpired session (also read by
 * `explain --session`).
 */
export function sessionFrom(body: unknown, traitPaths: readonly string[] = []): WhoamiOutcome {
  if (!isRecord(body) || !isRecord(body.identity))
    return { kind: 'unavailable', detail: 'whoami answered 200 without a session' };
  const {
    id,
    active,
    expires_at: expiresAt,
    authenticated_at: authenticatedAt,
    authenticator_assurance_level: aal,
  } = body;
  const identityId = body.identity.id;
  const expiry = typeof expiresAt === 'string' ? Date.parse(expiresAt) : NaN;
  if (
    typeof id !== 'string' ||
    typeof identityId !== 'string' ||
    typeof active !== 'boolean' ||
    !AALS.has(aal) ||
    Number.isNaN(expiry)
  ) {
    return { kind: 'unavailable', detail: 'whoami answered 200 with a malformed session' };
  }
  if (!active || expiry <= Date.now()) return { kind: 'unauthenticated' };
  // Optional, as only a max_age needs it: decide.ts fails closed when one applies without it.
  // In the literal even when absent: a property added later costs every cached session a
  // separate property store (README, Memory).
  const authenticated = typeof authenticatedAt === 'string' ? Date.parse(authenticatedAt) : NaN;
  const session: KratosSession = {
    id,
    identityId,
    aal: aal as Aal,
    expiresAt: expiry,
    authenticatedAt: Number.isNaN(authenticated) ? undefined : authenticated,
    methods: methodsOf(body.authentication_methods),
    traits: readTraits(body.identity.traits, traitPaths),
  };
  return { kind: 'active', session };
}

// Kratos's method names (password, totp, webauthn, code, oidc, lookup_secret, …) are short
// words; a re-authentication appends its methods again, so each is listed once.
const METHOD_NAME = /^[a-z0-9_]{1,32}$/;
const MAX_METHODS = 16;

// Sessions share a handful of method lists ([password], [password, totp], …): each cached
// session points at one frozen copy instead of holding its own (README, Memory).
// Bounded, as Kratos's answers are not ours: past it, lists are simply not shared.
const SHARED_METHOD_LISTS = new Map<string, readonly string[]>();
const MAX_SHARED_METHOD_LISTS = 256;

function methodsOf(value: unknown): readonly string[] {
  if (!Array.isArray(value)) return NO_METHODS;
  const methods = new Set<string>();
  for (const entry of value) {
    const method: unknown = isRecord(entry) ? entry.method : undefined;
    if (typeof method === 'string' && METHOD_NAME.test(method) && methods.size < MAX_METHODS) methods.add(method);
  }
  const list = [...methods];
  const key = list.join(' ');
  const shared = SHARED_METHOD_LISTS.get(key);
  if (shared) return shared;
  const frozen = Object.freeze(list);
  if (SHARED_METHOD_LISTS.size < MAX_SHARED_METHOD_LISTS) SHARED_METHOD_LISTS.set(key, frozen);
  return frozen;
}

const NO_METHODS: readonly string[] = Object.freeze([]);

/** Only an answer about the identity that was asked for, in a state Kratos defines, is trusted. */
function availableAalFrom(body: unknown, identityId: string, codeMfa: CodeMfa): AvailableAalOutcome {
  if (!isRecord(body) || body.id !== identityId)
    return { kind: 'unavailable', detail: 'admin identity answer is not an identity' };
  if (body.state === 'inactive') return { kind: 'identity_inactive' };
  if (body.state !== 'active') return { kind: 'unavailable', detail: 'admin identity answer has no identity state' };
  const credentials = isRecord(body.credentials) ? (body.credentials as AdminIdentityCredentials) : {};
  return { kind: 'known', aal: availableAalOf(credentials, codeMfa) };
}
