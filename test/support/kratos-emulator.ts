// In-process emulator of the two Ory Kratos HTTP surfaces this project talks to:
// the public `/sessions/whoami` endpoint and the admin `GET /admin/identities/{id}`.
//
// It is the only stand-in for Kratos on this machine, so it follows the fact sheet
// /work/shared/reference/kratos-whoami.md (Kratos v26.2.0) closely; "§n" below refers to
// sections of that sheet. Anything it cannot emulate is listed at the end of this comment.
//
// Not emulated: `tokenize_as` templates (every template name is unknown, as in a Kratos
// without templates), `feature_flags.cacheable_sessions`, the admin session APIs other
// than extend,
// oidc/saml/passkey credentials, legacy AMR entries without `aal`, the `/admin`
// redirect of `/admin/sessions/whoami`, and the CONNECT method on whoami (Node
// hands CONNECT to a separate event, so it never reaches whoami here).
//
// test/e2e/conformance.test.ts compares it with the real Kratos the project can build here
// (v1.3.1, see README "The real stack"). Seen there and deliberately not followed, since the
// product never depends on them and the fact sheet describes v26.2.0: the admin port answers a
// path without the /admin prefix with a 307 to /admin<path> (text/html) instead of serving it,
// and an unknown public path gets Go's plain-text "404 page not found".
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHmac, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';

export type Aal = 'aal0' | 'aal1' | 'aal2';
export type RequiredAal = 'aal1' | 'highest_available';
export interface AuthMethod {
  method: string;
  aal: 'aal1' | 'aal2';
  completed_at?: string;
}
export interface EmulatorCredentials {
  password?: { identifiers: string[] };
  totp?: { totp_url: string };
  lookup_secret?: { recovery_codes: Array<{ code: string; used_at?: string }> };
  webauthn?: {
    credentials: Array<{ id: string; is_passwordless: boolean; display_name?: string }>;
    identifiers?: string[];
  };
  code?: { addresses: Array<{ channel: 'email' | 'sms'; address: string }> };
}
/**
 * The Kratos release emulated where releases differ: /version, and code MFA, which up to v1.3.1
 * makes every identity aal2-available and from v25.4.0 only those with a code address. `master`
 * is a source build without a version (it reports "master") of the current code.
 */
export type EmulatedKratosVersion = 'v1.3.1' | 'v26.2.0' | 'master';
export interface EmulatorOptions {
  requiredAal?: RequiredAal;
  cookieName?: string;
  codeMfaEnabled?: boolean;
  /** Default v26.2.0. */
  kratosVersion?: EmulatedKratosVersion;
  adminToken?: string;
}
export interface FaultSpec {
  mode: 'status500' | 'hang' | 'garbage' | 'reset';
  count?: number;
}
export type Endpoint = 'whoami' | 'identity' | 'health' | 'version';
export interface RecordedRequest {
  endpoint: Endpoint | 'other';
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}
export interface CreatedSession {
  id: string;
  token: string;
  cookie: string;
  identityId: string;
}
export type StartOptions = EmulatorOptions & { publicPort?: number; adminPort?: number };

type IdentityState = 'active' | 'inactive';
type CredentialType = keyof EmulatorCredentials;
type Json = Record<string, unknown>;

interface StoredIdentity {
  id: string;
  traits: Record<string, unknown>;
  state: IdentityState;
  stateChangedAt: Date;
  createdAt: Date;
  updatedAt: Date;
  credentials: EmulatorCredentials;
  credentialTimes: Map<CredentialType, { createdAt: Date; updatedAt: Date }>;
  hashedPassword: string;
  // Kratos' `identities.available_aal` column (§5.1, §5.3): written on identity
  // create/update and session activation, and trusted by whoami when it says aal2.
  availableAal: Aal;
}

interface StoredSession {
  id: string;
  token: string;
  identityId: string;
  active: boolean;
  expiresAt: Date;
  authenticatedAt: Date;
  issuedAt: Date;
  methods: Array<Required<AuthMethod>>;
  deviceId: string;
}

interface CookiePayload {
  session_token: string;
  expires_at: string;
  nonce: string;
}

interface HerodotError {
  id?: string;
  code: number;
  status: string;
  reason?: string;
  details?: Json;
  message: string;
}

interface Route {
  endpoint: Endpoint | 'other';
  handle: (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;
}

const HOST = '127.0.0.1';
const DEFAULT_COOKIE_NAME = 'ory_kratos_session';
const SESSION_LIFESPAN_MS = 24 * 60 * 60 * 1000; // session.lifespan default (§7)
const JSON_UTF8 = 'application/json; charset=utf-8'; // herodot success writer (§2.1)
const JSON_PLAIN = 'application/json'; // herodot error writer (§3)
const NO_CACHE = 'private, no-cache, no-store, must-revalidate';

// `include_credential` values accepted by ParseCredentialsType (§6.1).
const INCLUDABLE_CREDENTIALS = new Set([
  'password',
  'oidc',
  'saml',
  'totp',
  'lookup_secret',
  'webauthn',
  'code',
  'link_recovery',
  'code_recovery',
  'passkey',
]);
// Credential version numbers as Kratos writes them for these types.
const CREDENTIAL_VERSION: Record<CredentialType, number> = {
  password: 0,
  totp: 0,
  lookup_secret: 0,
  webauthn: 1,
  code: 1,
};

// herodot's stock errors (ory/herodot error_default.go).
const UNAUTHORIZED: HerodotError = {
  code: 401,
  status: 'Unauthorized',
  message: 'The request could not be authorized',
};
const NO_SESSION: HerodotError = { ...UNAUTHORIZED, reason: 'No valid session credentials found in the request.' }; // §3.1
const AAL_UNDETERMINED: HerodotError = { ...UNAUTHORIZED, reason: 'Unable to determine AAL.' }; // §3.3
const NOT_FOUND: HerodotError = { code: 404, status: 'Not Found', message: 'Unable to locate the resource' };
const BAD_REQUEST: HerodotError = {
  code: 400,
  status: 'Bad Request',
  message: 'The request was malformed or contained invalid parameters',
};
const INTERNAL: HerodotError = {
  code: 500,
  status: 'Internal Server Error',
  message: 'An internal server error occurred, please contact the system administrator',
};

// §3.2
const AAL2_REQUIRED_REASON =
  'An active session was found but it does not fulfill the requested Authenticator Assurance Level. ' +
  'Please verify yourself with a second factor to resolve this issue.';
const AAL2_REQUIRED_MESSAGE = 'Session does not fulfill the requested Authenticator Assurance Level';

export class KratosEmulator {
  readonly publicUrl: string;
  readonly adminUrl: string;
  readonly cookieName: string;
  readonly requests: RecordedRequest[] = [];

  private requiredAal: RequiredAal;
  private codeMfaEnabled: boolean;
  private readonly kratosVersion: EmulatedKratosVersion;
  private aalComputationFails = false;
  private readonly adminToken: string | undefined;
  private readonly identities = new Map<string, StoredIdentity>();
  private readonly sessions = new Map<string, StoredSession>();
  private readonly sessionIdByToken = new Map<string, string>();
  private readonly latency = new Map<Endpoint, number>();
  private readonly faults = new Map<Endpoint, FaultSpec>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  // Signs our opaque cookie format; a fresh secret per emulator means a cookie from
  // another emulator does not decode, like a cookie from another Kratos deployment.
  private readonly cookieSecret = randomBytes(32);
  private stopped = false;

  private constructor(
    private readonly publicServer: http.Server,
    private readonly adminServer: http.Server,
    options: EmulatorOptions,
  ) {
    this.publicUrl = serverUrl(publicServer);
    this.adminUrl = serverUrl(adminServer);
    this.cookieName = options.cookieName ?? DEFAULT_COOKIE_NAME;
    this.requiredAal = options.requiredAal ?? 'aal1';
    this.codeMfaEnabled = options.codeMfaEnabled ?? false;
    this.kratosVersion = options.kratosVersion ?? 'v26.2.0';
    this.adminToken = options.adminToken;
    this.attach(publicServer, (path) => this.publicRoute(path));
    this.attach(adminServer, (path, method) => this.adminRoute(path, method));
  }

  /** Starts the public and admin servers on 127.0.0.1 (port 0 = any free port). */
  static async start(options: StartOptions = {}): Promise<KratosEmulator> {
    const publicServer = http.createServer();
    const adminServer = http.createServer();
    try {
      await listen(publicServer, options.publicPort ?? 0);
      await listen(adminServer, options.adminPort ?? 0);
    } catch (err) {
      publicServer.close();
      adminServer.close();
      throw err;
    }
    return new KratosEmulator(publicServer, adminServer, options);
  }

  // ---------------------------------------------------------------- test controls

  count(endpoint: Endpoint): number {
    return this.requests.filter((r) => r.endpoint === endpoint).length;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  setRequiredAal(mode: RequiredAal): void {
    this.requiredAal = mode;
  }

  /**
   * A config change only: like Kratos, a stored available_aal of aal2 stays trusted until the
   * identity is next written (§5.3).
   */
  setCodeMfaEnabled(on: boolean): void {
    this.codeMfaEnabled = on;
  }

  /**
   * While on, DoesSessionSatisfy errors wherever it would load the identity's credentials (a
   * database error): highest_available on a session below aal2 whose stored available_aal is
   * not aal2 then gets the 401 "Unable to determine AAL." (§3.3).
   */
  setAalComputationFails(on: boolean): void {
    this.aalComputationFails = on;
  }

  /** Without `credentials` the identity gets a password credential identified by its email trait. */
  addIdentity(
    spec: {
      id?: string;
      traits?: Record<string, unknown>;
      state?: IdentityState;
      credentials?: EmulatorCredentials;
    } = {},
  ): string {
    const id = spec.id ?? randomUUID();
    if (this.identities.has(id)) throw new Error(`identity ${id} already exists`);
    const now = new Date();
    const identity: StoredIdentity = {
      id,
      traits: spec.traits ?? { email: `user-${id.slice(0, 8)}@example.com` },
      state: spec.state ?? 'active',
      stateChangedAt: now,
      createdAt: now,
      updatedAt: now,
      credentials: {},
      credentialTimes: new Map(),
      hashedPassword: fakeArgon2Hash(),
      availableAal: 'aal0',
    };
    this.identities.set(id, identity);
    this.writeCredentials(
      identity,
      spec.credentials ?? { password: { identifiers: [String(identity.traits['email'] ?? id)] } },
    );
    return id;
  }

  setIdentityState(identityId: string, state: IdentityState): void {
    const identity = this.identity(identityId);
    if (identity.state !== state) identity.stateChangedAt = new Date();
    identity.state = state;
    this.touch(identity);
  }

  /** Replaces the identity's traits, as an admin identity update or a settings flow would. */
  setTraits(identityId: string, traits: Record<string, unknown>): void {
    const identity = this.identity(identityId);
    identity.traits = traits;
    this.touch(identity);
  }

  /** Replaces the identity's credentials, as an admin identity update would; recomputes available_aal (§5.3). */
  setCredentials(identityId: string, credentials: EmulatorCredentials): void {
    this.writeCredentials(this.identity(identityId), credentials);
  }

  /** `authenticatedAt`: a login that happened earlier (for max_age), default now. */
  createSession(
    identityId: string,
    spec: { methods?: AuthMethod[]; expiresAt?: Date; active?: boolean; authenticatedAt?: Date } = {},
  ): CreatedSession {
    const identity = this.identity(identityId);
    const now = new Date();
    const session: StoredSession = {
      id: randomUUID(),
      token: newSessionToken(),
      identityId,
      active: spec.active ?? true,
      expiresAt: spec.expiresAt ?? new Date(now.getTime() + SESSION_LIFESPAN_MS),
      authenticatedAt: spec.authenticatedAt ?? now,
      issuedAt: now,
      methods: (spec.methods ?? [{ method: 'password', aal: 'aal1' }]).map((m) => completeMethod(m, now)),
      deviceId: randomUUID(),
    };
    this.sessions.set(session.id, session);
    this.sessionIdByToken.set(session.token, session.id);
    this.refreshAvailableAal(identity); // ActivateSession → RefreshAvailableAAL (§5.3)
    return { id: session.id, token: session.token, cookie: this.issueCookie(session), identityId };
  }

  /**
   * An `aal=aal2` login on an existing session: Kratos upgrades the same session in place
   * and re-activates it, resetting issued_at, authenticated_at and expires_at (§7, §8).
   */
  stepUp(sessionId: string, method = 'totp'): void {
    this.activate(this.session(sessionId), [{ method, aal: 'aal2' }]);
  }

  /**
   * A `refresh=true` login on an existing session (password by default): the same session
   * re-activated, its authenticated_at now, the methods used appended to its AMR (§7, §8).
   */
  reauthenticate(sessionId: string, methods: AuthMethod[] = [{ method: 'password', aal: 'aal1' }]): void {
    this.activate(this.session(sessionId), methods);
  }

  /** ActivateSession on a login into an existing session: issued_at, authenticated_at and expires_at reset (§7). */
  private activate(session: StoredSession, methods: AuthMethod[]): void {
    const now = new Date();
    session.methods.push(...methods.map((m) => completeMethod(m, now)));
    session.authenticatedAt = now;
    session.issuedAt = now;
    session.expiresAt = new Date(now.getTime() + SESSION_LIFESPAN_MS);
    this.refreshAvailableAal(this.identity(session.identityId));
  }

  /**
   * `PATCH /admin/sessions/{id}/extend` (also served on the admin port): expires_at becomes now
   * plus the lifespan, nothing else changes. Kratos v1.3.1 answers 200 with the session and,
   * with earliest_possible_extend unset, extends at once (seen). The next whoami with a cookie
   * issued before then answers with a renewed Set-Cookie (RefreshCookie, §2.1 step 7).
   */
  extendSession(sessionId: string): void {
    this.session(sessionId).expiresAt = new Date(Date.now() + SESSION_LIFESPAN_MS);
  }

  revokeSession(sessionId: string): void {
    this.session(sessionId).active = false;
  }

  expireSession(sessionId: string): void {
    this.session(sessionId).expiresAt = new Date(Date.now() - 1000);
  }

  cookieHeaderFor(session: CreatedSession): string {
    return `${this.cookieName}=${session.cookie}`;
  }

  setLatency(endpoint: Endpoint, ms: number): void {
    this.latency.set(endpoint, ms);
  }

  fail(endpoint: Endpoint, fault: FaultSpec): void {
    this.faults.set(endpoint, { ...fault });
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Closes both servers, destroying idle keep-alive and hanging sockets instead of waiting for them. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = [closeServer(this.publicServer), closeServer(this.adminServer)];
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closed);
  }

  // ---------------------------------------------------------------- HTTP plumbing

  private attach(server: http.Server, route: (path: string, method: string) => Route): void {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://emulator');
      const method = req.method ?? 'GET';
      const target = route(url.pathname, method);
      this.requests.push({ endpoint: target.endpoint, method, url: req.url ?? '/', headers: { ...req.headers } });
      // The request body is never needed; drain it so keep-alive connections stay usable.
      req.resume();
      // A handler bug must not leave the client hanging: drop the connection instead.
      this.serve(req, res, url, target).catch(() => res.destroy());
    });
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse, url: URL, target: Route): Promise<void> {
    const endpoint = target.endpoint === 'other' ? undefined : target.endpoint;
    // The fault is claimed on arrival so concurrent requests consume `count` deterministically.
    const fault = endpoint ? this.takeFault(endpoint) : undefined;
    if (fault === 'hang') return; // never answered; stop() destroys the socket
    const delay = endpoint ? (this.latency.get(endpoint) ?? 0) : 0;
    if (delay > 0) await this.sleep(delay);
    if (this.stopped) return;
    if (fault) return applyFault(fault, req, res);
    target.handle(req, res, url);
  }

  private takeFault(endpoint: Endpoint): FaultSpec['mode'] | undefined {
    const fault = this.faults.get(endpoint);
    if (!fault) return undefined;
    if (fault.count !== undefined) {
      fault.count -= 1;
      if (fault.count <= 0) this.faults.delete(endpoint);
    }
    return fault.mode;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  // ---------------------------------------------------------------- routing

  private publicRoute(path: string): Route {
    // §1.1: every method reaches whoami (DELETE via the `whoami` special case).
    if (path === '/sessions/whoami')
      return { endpoint: 'whoami', handle: (req, res, url) => this.whoami(req, res, url) };
    return this.commonRoute(path, false);
  }

  private adminRoute(path: string, method: string): Route {
    // Kratos adds the /admin prefix when it is missing (§6).
    const adminPath = path.startsWith('/admin/') ? path : `/admin${path}`;
    const match = /^\/admin\/identities\/([^/]+)$/.exec(adminPath);
    if (match?.[1] !== undefined && (method === 'GET' || method === 'HEAD')) {
      const id = safeDecode(match[1]);
      return { endpoint: 'identity', handle: (req, res, url) => this.adminIdentity(req, res, url, id) };
    }
    const extend = /^\/admin\/sessions\/([^/]+)\/extend$/.exec(adminPath);
    if (extend?.[1] !== undefined && method === 'PATCH') {
      const id = safeDecode(extend[1]);
      return { endpoint: 'other', handle: (req, res) => this.adminExtendSession(req, res, id) };
    }
    return this.commonRoute(adminPath.slice('/admin'.length), true);
  }

  private adminExtendSession(req: http.IncomingMessage, res: http.ServerResponse, id: string): void {
    if (this.adminToken !== undefined && bearerToken(req) !== this.adminToken) {
      return this.sendError(req, res, { ...UNAUTHORIZED, reason: 'A valid admin API token is required.' }, true);
    }
    const session = this.sessions.get(id);
    if (!session) return this.sendError(req, res, NOT_FOUND, true);
    this.extendSession(id);
    this.respond(req, res, 200, JSON_UTF8, this.sessionJson(session), true);
  }

  /** Health probes exist on both ports; anything else is a herodot 404. */
  private commonRoute(path: string, admin: boolean): Route {
    if (path === '/health/alive' || path === '/health/ready') {
      return {
        endpoint: 'health',
        handle: (req, res) => this.respond(req, res, 200, JSON_UTF8, { status: 'ok' }, admin),
      };
    }
    if (path === '/version') {
      return {
        endpoint: 'version',
        handle: (req, res) => this.respond(req, res, 200, JSON_UTF8, { version: this.kratosVersion }, admin),
      };
    }
    return { endpoint: 'other', handle: (req, res) => this.sendError(req, res, NOT_FOUND, admin) };
  }

  // ---------------------------------------------------------------- whoami (§2.1)

  private whoami(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const cookies = this.scanSessionCookies(req);
    const token = extractToken(req, cookies.decoded);
    const session = token ? this.findActiveSession(token) : undefined;
    if (!session) return this.sendError(req, res, NO_SESSION);
    const aal = this.checkRequiredAal(session);
    if (aal === 'refused') return this.sendAal2Required(req, res);
    if (aal === 'failed') return this.sendError(req, res, AAL_UNDETERMINED);

    const template = url.searchParams.get('tokenize_as');
    if (template) {
      // No tokenizer templates are configured, so every name is unknown (§2.3, §3.4).
      return this.sendError(req, res, { ...BAD_REQUEST, reason: `Unable to find tokenizer template "${template}".` });
    }

    res.setHeader('X-Kratos-Authenticated-Identity-Id', session.identityId);
    // RefreshCookie (§1.2 pitfalls, §2.1 step 7): a session cookie that is present but
    // undecodable fails the whole request, even though the token came from a header.
    if (cookies.present && !cookies.decoded) {
      return this.sendError(req, res, { ...INTERNAL, message: 'securecookie: the value is not valid' });
    }
    if (cookies.decoded && !(Date.parse(cookies.decoded.expires_at) >= session.expiresAt.getTime())) {
      res.setHeader('Set-Cookie', this.setCookieHeader(session));
    }
    this.respond(req, res, 200, JSON_UTF8, this.sessionJson(session));
  }

  /** §1.2 step 2: all cookies with our name, across every Cookie line, first decodable wins. */
  private scanSessionCookies(req: http.IncomingMessage): { present: boolean; decoded?: CookiePayload } {
    const values = goReadCookies(req.headersDistinct['cookie'] ?? [])
      .filter((c) => c.name === this.cookieName)
      .map((c) => c.value);
    for (const value of values) {
      const decoded = this.decodeCookie(value);
      if (decoded) return { present: true, decoded };
    }
    return { present: values.length > 0 };
  }

  /** §1.4: unknown, revoked, expired, or belonging to an inactive identity → no session. */
  private findActiveSession(token: string): StoredSession | undefined {
    const id = this.sessionIdByToken.get(token);
    const session = id === undefined ? undefined : this.sessions.get(id);
    if (!session || !session.active || session.expiresAt.getTime() <= Date.now()) return undefined;
    return this.identities.get(session.identityId)?.state === 'active' ? session : undefined;
  }

  /** DoesSessionSatisfy (§5.3, §10.4); `failed` is any error other than ErrAALNotSatisfied (§3.3). */
  private checkRequiredAal(session: StoredSession): 'ok' | 'refused' | 'failed' {
    const sessionAal = sessionAalOf(session.methods);
    if (this.requiredAal === 'aal1') return sessionAal !== 'aal0' ? 'ok' : 'refused';
    if (sessionAal === 'aal2') return 'ok';
    const identity = this.identity(session.identityId);
    // A stored aal2 is trusted without recomputing; anything else is recomputed (after
    // hydrating the credentials) and, when it comes out aal2, written back (whoami passes UpsertAAL).
    if (identity.availableAal === 'aal2') return 'refused';
    if (this.aalComputationFails) return 'failed';
    identity.availableAal = this.computeAvailableAal(identity.credentials);
    return identity.availableAal !== 'aal2' ? 'ok' : 'refused';
  }

  // ---------------------------------------------------------------- admin identity (§6.1)

  private adminIdentity(req: http.IncomingMessage, res: http.ServerResponse, url: URL, id: string): void {
    if (this.adminToken !== undefined && bearerToken(req) !== this.adminToken) {
      return this.sendError(req, res, { ...UNAUTHORIZED, reason: 'A valid admin API token is required.' }, true);
    }
    const requested = url.searchParams.getAll('include_credential');
    const invalid = requested.find((t) => !INCLUDABLE_CREDENTIALS.has(t));
    if (invalid !== undefined) {
      return this.sendError(
        req,
        res,
        { ...BAD_REQUEST, reason: `Invalid value \`${invalid}\` for parameter \`include_credential\`.` },
        true,
      );
    }
    const identity = this.identities.get(id);
    if (!identity) return this.sendError(req, res, NOT_FOUND, true);
    this.respond(req, res, 200, JSON_UTF8, this.identityJson(identity, new Set(requested)), true);
  }

  // ---------------------------------------------------------------- JSON shapes

  /** Session JSON in Go's field order (§2.2). */
  private sessionJson(session: StoredSession): Json {
    return {
      id: session.id,
      active: true,
      expires_at: goTime(session.expiresAt),
      authenticated_at: goTime(session.authenticatedAt),
      authenticator_assurance_level: sessionAalOf(session.methods),
      authentication_methods: session.methods.map((m) => ({
        method: m.method,
        aal: m.aal,
        completed_at: m.completed_at,
      })),
      issued_at: goTime(session.issuedAt),
      identity: this.identityJson(this.identity(session.identityId)),
      // Sessions created by a login always have one device row (§2.2).
      devices: [{ id: session.deviceId, ip_address: HOST, user_agent: 'kratos-emulator', location: null }],
    };
  }

  /**
   * Identity JSON in Go's field order. Without `admin` it is the public shape (no
   * credentials, no metadata_admin); with it, the admin shape where `config` is present
   * only for the credential types in `admin` (WithDeclassifiedCredentials, §6.1).
   */
  private identityJson(identity: StoredIdentity, admin?: Set<string>): Json {
    const credentials = admin ? this.credentialsJson(identity, admin) : undefined;
    return {
      id: identity.id,
      ...(credentials ? { credentials } : {}),
      schema_id: 'default',
      schema_url: `${this.publicUrl}/schemas/${Buffer.from('default').toString('base64url')}`,
      state: identity.state,
      state_changed_at: goTime(identity.stateChangedAt),
      traits: identity.traits,
      metadata_public: null,
      ...(admin ? { metadata_admin: null } : {}),
      created_at: goTime(identity.createdAt),
      updated_at: goTime(identity.updatedAt),
      organization_id: null,
    };
  }

  /** Go marshals the credentials map with sorted keys and omits it when empty. */
  private credentialsJson(identity: StoredIdentity, include: Set<string>): Json | undefined {
    const types = presentTypes(identity.credentials).sort();
    if (types.length === 0) return undefined;
    const entries = types.map((type) => {
      const times = identity.credentialTimes.get(type);
      const view = this.credentialView(identity, type);
      return [
        type,
        {
          type,
          identifiers: view.identifiers,
          ...(include.has(type) ? { config: view.config } : {}),
          version: CREDENTIAL_VERSION[type],
          created_at: goTime(times?.createdAt ?? identity.createdAt),
          updated_at: goTime(times?.updatedAt ?? identity.updatedAt),
        },
      ] as const;
    });
    return Object.fromEntries(entries);
  }

  /** How Kratos stores each credential type: its identifiers and raw config. */
  private credentialView(identity: StoredIdentity, type: CredentialType): { identifiers: string[]; config: Json } {
    const c = identity.credentials;
    switch (type) {
      case 'password':
        return { identifiers: c.password?.identifiers ?? [], config: { hashed_password: identity.hashedPassword } };
      case 'totp':
        // TOTP and lookup secrets are keyed by the identity id.
        return { identifiers: [identity.id], config: { totp_url: c.totp?.totp_url ?? '' } };
      case 'lookup_secret':
        return {
          identifiers: [identity.id],
          config: {
            recovery_codes: (c.lookup_secret?.recovery_codes ?? []).map((r) => ({
              code: r.code,
              used_at: r.used_at ?? null,
            })),
          },
        };
      case 'webauthn': {
        const keys = (c.webauthn?.credentials ?? []).map((k) => ({
          id: k.id,
          display_name: k.display_name ?? '',
          is_passwordless: k.is_passwordless,
          added_at: goTime(identity.credentialTimes.get('webauthn')?.createdAt ?? identity.createdAt),
        }));
        const userHandle = Buffer.from(identity.id.replace(/-/g, ''), 'hex').toString('base64');
        // Without keys Kratos omits the list (seen with v1.3.1: an identity whose schema names a
        // webauthn identifier gets a credential holding only {"user_handle": ...}).
        return {
          identifiers: c.webauthn?.identifiers ?? [],
          config: keys.length > 0 ? { credentials: keys, user_handle: userHandle } : { user_handle: userHandle },
        };
      }
      case 'code':
        return {
          identifiers: (c.code?.addresses ?? []).map((a) => a.address),
          config: { addresses: (c.code?.addresses ?? []).map((a) => ({ channel: a.channel, address: a.address })) },
        };
    }
  }

  // ---------------------------------------------------------------- AAL (§5.2)

  private computeAvailableAal(credentials: EmulatorCredentials): Aal {
    if (this.countSecondFactors(credentials) > 0) return 'aal2'; // no first factor needed
    return countFirstFactors(credentials) > 0 ? 'aal1' : 'aal0';
  }

  private countSecondFactors(c: EmulatorCredentials): number {
    const totp = c.totp && isParseableTotpUrl(c.totp.totp_url) ? 1 : 0;
    const webauthn = (c.webauthn?.credentials ?? []).filter((k) => !k.is_passwordless).length;
    const lookup = (c.lookup_secret?.recovery_codes.length ?? 0) > 0 ? 1 : 0; // used codes still count
    const code =
      this.codeMfaEnabled &&
      (this.kratosVersion === 'v1.3.1' || (c.code?.addresses ?? []).some((a) => a.address !== ''))
        ? 1
        : 0;
    return totp + webauthn + lookup + code;
  }

  private refreshAvailableAal(identity: StoredIdentity): void {
    identity.availableAal = this.computeAvailableAal(identity.credentials);
  }

  // ---------------------------------------------------------------- identities & cookies

  private writeCredentials(identity: StoredIdentity, credentials: EmulatorCredentials): void {
    const now = new Date();
    const next = structuredClone(credentials);
    const times = new Map<CredentialType, { createdAt: Date; updatedAt: Date }>();
    for (const type of presentTypes(next)) {
      times.set(type, { createdAt: identity.credentialTimes.get(type)?.createdAt ?? now, updatedAt: now });
    }
    identity.credentials = next;
    identity.credentialTimes = times;
    this.touch(identity);
  }

  /** Any identity write goes through the identity manager, which recomputes available_aal (§5.3). */
  private touch(identity: StoredIdentity): void {
    identity.updatedAt = new Date();
    this.refreshAvailableAal(identity);
  }

  private issueCookie(session: StoredSession): string {
    const payload: CookiePayload = {
      session_token: session.token,
      expires_at: goTime(session.expiresAt),
      nonce: randomBytes(16).toString('base64url'),
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** "Decodes" = well-formed and correctly signed; anything else is treated like a foreign securecookie. */
  private decodeCookie(value: string): CookiePayload | undefined {
    const [body, signature, extra] = value.split('.');
    if (body === undefined || signature === undefined || extra !== undefined) return undefined;
    const expected = Buffer.from(this.sign(body));
    const actual = Buffer.from(signature);
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      return isCookiePayload(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  private sign(body: string): string {
    return createHmac('sha256', this.cookieSecret).update(body).digest('base64url');
  }

  /** The cookie Kratos re-issues in dev mode (no Secure flag), persistent for the session's remaining life. */
  private setCookieHeader(session: StoredSession): string {
    const maxAge = Math.max(0, Math.floor((session.expiresAt.getTime() - Date.now()) / 1000));
    const expires = new Date(Date.now() + maxAge * 1000).toUTCString();
    return `${this.cookieName}=${this.issueCookie(session)}; Path=/; Expires=${expires}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax`;
  }

  private identity(id: string): StoredIdentity {
    const identity = this.identities.get(id);
    if (!identity) throw new Error(`unknown identity ${id}`);
    return identity;
  }

  private session(id: string): StoredSession {
    const session = this.sessions.get(id);
    if (!session) throw new Error(`unknown session ${id}`);
    return session;
  }

  // ---------------------------------------------------------------- responses

  /** herodot error (§3): Ory-Error-Id always set (empty without id), `request` from X-Request-ID. */
  private sendError(req: http.IncomingMessage, res: http.ServerResponse, error: HerodotError, admin = false): void {
    res.setHeader('Ory-Error-Id', error.id ?? '');
    this.respond(
      req,
      res,
      error.code,
      JSON_PLAIN,
      { error: herodotFields(error, firstHeader(req, 'x-request-id')) },
      admin,
    );
  }

  /** §3.2: the enhanced error body, with no `request` field. */
  private sendAal2Required(req: http.IncomingMessage, res: http.ServerResponse): void {
    const redirect = `${this.publicUrl}/self-service/login/browser?aal=aal2`;
    const error: HerodotError = {
      id: 'session_aal2_required',
      code: 403,
      status: 'Forbidden',
      reason: AAL2_REQUIRED_REASON,
      details: { redirect_browser_to: redirect },
      message: AAL2_REQUIRED_MESSAGE,
    };
    res.setHeader('Ory-Error-Id', 'session_aal2_required');
    this.respond(req, res, 403, JSON_PLAIN, { error: herodotFields(error), redirect_browser_to: redirect });
  }

  /** The public router adds no-cache headers to every GET response (§2.1). */
  private respond(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    status: number,
    contentType: string,
    body: Json,
    admin = false,
  ): void {
    if (!admin && req.method === 'GET') res.setHeader('Cache-Control', NO_CACHE);
    writeBody(res, status, contentType, JSON.stringify(body)); // Node drops the body itself for HEAD
  }
}

// ---------------------------------------------------------------- free helpers

/** §1.2/§1.3: X-Session-Token, else the decoded cookie's token, else `Authorization: Bearer`. */
function extractToken(req: http.IncomingMessage, cookie: CookiePayload | undefined): string {
  const header = firstHeader(req, 'x-session-token');
  if (header) return header; // used even when invalid: no fallback
  if (cookie) return cookie.session_token;
  return bearerToken(req) ?? '';
}

/** bearerTokenFromRequest: split on single spaces, exactly two parts, scheme `bearer` in any case. */
function bearerToken(req: http.IncomingMessage): string | undefined {
  const parts = (firstHeader(req, 'authorization') ?? '').split(' ');
  return parts.length === 2 && parts[0]?.toLowerCase() === 'bearer' ? parts[1] : undefined;
}

/** Go's Header.Get: the first line of a repeated header. */
function firstHeader(req: http.IncomingMessage, name: string): string | undefined {
  return req.headersDistinct[name]?.[0];
}

/**
 * Go net/http readCookies: each Cookie line is split on ';' only (a comma is part of a
 * value), parts are trimmed, names must be HTTP tokens, one pair of surrounding double
 * quotes is stripped, and values with bytes outside Go's allowed set are dropped.
 */
function goReadCookies(lines: string[]): Array<{ name: string; value: string }> {
  const cookies: Array<{ name: string; value: string }> = [];
  for (const line of lines) {
    for (const rawPart of line.split(';')) {
      const part = rawPart.trim();
      if (part === '') continue;
      const eq = part.indexOf('=');
      const name = (eq < 0 ? part : part.slice(0, eq)).trim();
      const value = parseGoCookieValue(eq < 0 ? '' : part.slice(eq + 1));
      if (/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name) && value !== undefined) cookies.push({ name, value });
    }
  }
  return cookies;
}

function parseGoCookieValue(raw: string): string | undefined {
  const value = raw.length > 1 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  // validCookieValueByte: 0x20 <= b < 0x7f, except '"', ';' and '\'.
  return /^[\x20\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]*$/.test(value) ? value : undefined;
}

/** §5.4: aal2 needs an aal1 and an aal2 entry; any entry at all is aal1; none is aal0. */
function sessionAalOf(methods: AuthMethod[]): Aal {
  if (methods.length === 0) return 'aal0';
  const has = (aal: AuthMethod['aal']): boolean => methods.some((m) => m.aal === aal);
  return has('aal1') && has('aal2') ? 'aal2' : 'aal1';
}

/**
 * First factors relevant here: a password with identifiers, or a passwordless WebAuthn key when the
 * credential has identifiers.
 */
function countFirstFactors(c: EmulatorCredentials): number {
  const password = (c.password?.identifiers.length ?? 0) > 0 ? 1 : 0;
  const passwordless =
    (c.webauthn?.identifiers?.length ?? 0) > 0
      ? (c.webauthn?.credentials ?? []).filter((k) => k.is_passwordless).length
      : 0;
  return password + passwordless;
}

function isParseableTotpUrl(totpUrl: string): boolean {
  try {
    return new URL(totpUrl).protocol === 'otpauth:';
  } catch {
    return false;
  }
}

/** Field order and omitempty rules of herodot's DefaultError (§3). */
function herodotFields(error: HerodotError, request?: string): Json {
  return {
    ...(error.id ? { id: error.id } : {}),
    code: error.code,
    status: error.status,
    ...(request ? { request } : {}),
    ...(error.reason ? { reason: error.reason } : {}),
    ...(error.details ? { details: error.details } : {}),
    message: error.message,
  };
}

function applyFault(mode: FaultSpec['mode'], req: http.IncomingMessage, res: http.ServerResponse): void {
  switch (mode) {
    case 'status500':
      res.setHeader('Ory-Error-Id', '');
      return writeBody(
        res,
        500,
        JSON_PLAIN,
        JSON.stringify({ error: herodotFields(INTERNAL, firstHeader(req, 'x-request-id')) }),
      );
    case 'garbage':
      return writeBody(res, 200, JSON_PLAIN, '<html>oops');
    case 'reset':
      req.socket.resetAndDestroy();
      return;
    case 'hang':
      return;
  }
}

function writeBody(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** Credential types that are actually set (a key holding `undefined` is not a credential). */
function presentTypes(credentials: EmulatorCredentials): CredentialType[] {
  return (Object.keys(credentials) as CredentialType[]).filter((type) => credentials[type] !== undefined);
}

function completeMethod(method: AuthMethod, at: Date): Required<AuthMethod> {
  return { method: method.method, aal: method.aal, completed_at: method.completed_at ?? goTime(at) };
}

function isCookiePayload(value: unknown): value is CookiePayload {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['session_token'] === 'string' && typeof v['expires_at'] === 'string' && typeof v['nonce'] === 'string'
  );
}

/** Go's RFC3339Nano: fractional seconds with trailing zeros trimmed. */
function goTime(date: Date): string {
  return date.toISOString().replace(/\.?0+Z$/, 'Z');
}

/** `ory_st_` + 32 alphanumerics, like Kratos session tokens (x/token_prefixes.go). */
function newSessionToken(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let token = 'ory_st_';
  for (let i = 0; i < 32; i++) token += alphabet[randomInt(alphabet.length)];
  return token;
}

function fakeArgon2Hash(): string {
  return `$argon2id$v=19$m=65536,t=1,p=1$${randomBytes(16).toString('base64url')}$${randomBytes(32).toString('base64url')}`;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function serverUrl(server: http.Server): string {
  const address = server.address() as AddressInfo;
  return `http://${HOST}:${address.port}`;
}

// ---------------------------------------------------------------- standalone demo

/**
 * Runs the emulator on fixed ports (EMULATOR_PUBLIC_PORT, default 4433;
 * EMULATOR_ADMIN_PORT, default 4434) with a few seeded sessions to try by hand.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<KratosEmulator> {
  const requiredAal = env['EMULATOR_REQUIRED_AAL'] === 'highest_available' ? 'highest_available' : 'aal1';
  const emulator = await KratosEmulator.start({
    publicPort: Number(env['EMULATOR_PUBLIC_PORT'] ?? 4433),
    adminPort: Number(env['EMULATOR_ADMIN_PORT'] ?? 4434),
    requiredAal,
  });
  const alice = emulator.addIdentity({ traits: { email: 'alice@example.com' } });
  const bob = emulator.addIdentity({
    traits: { email: 'bob@example.com' },
    credentials: {
      password: { identifiers: ['bob@example.com'] },
      totp: { totp_url: 'otpauth://totp/demo:bob?secret=JBSWY3DPEHPK3PXP' },
    },
  });
  const seeded = {
    'alice (password, aal1)': emulator.createSession(alice),
    'bob (password+totp, aal1 session)': emulator.createSession(bob),
    'bob (password+totp, aal2 session)': emulator.createSession(bob, {
      methods: [
        { method: 'password', aal: 'aal1' },
        { method: 'totp', aal: 'aal2' },
      ],
    }),
  };
  console.log(`kratos-emulator public=${emulator.publicUrl} admin=${emulator.adminUrl} required_aal=${requiredAal}`);
  for (const [label, s] of Object.entries(seeded)) {
    console.log(
      `  ${label}: identity=${s.identityId}\n    X-Session-Token: ${s.token}\n    Cookie: ${emulator.cookieHeaderFor(s)}`,
    );
  }
  const shutdown = (): void => void emulator.stop().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  return emulator;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
