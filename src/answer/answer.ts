import type { Decision, SessionDecision } from '../decision/decision';
import type { HeaderList } from '../request/headers';
import { IDENTITY_HEADERS } from '../request/identity-headers';
import { isBrowserNavigation } from '../request/navigation';
import type { RequestView } from '../request/view';
import type { UpstreamCredentials } from '../upstream/upstream-credentials';
import type { UpstreamIdentityHeaders } from '../upstream/upstream-identity';
import { loginUrl, originalUrl, type LoginUrlSettings } from './login-url';

/**
 * How the checked request is answered, in plain HTTP terms every front door shares: let it
 * through with the identity headers for the upstream (none without a subject), what the
 * upstream gets of the client's credential headers, and `clientHeaders` to add to the
 * upstream's response (the renewed session cookie, one `set-cookie` per line, or none), or
 * answer the client with this status, headers and body.
 * How a proxy is told to clear forged identity headers, or which status it can carry, is each
 * front door's own business.
 */
export type Answer =
  /** `withheld`: the identity headers this configuration knows and this allow does not set. */
  | {
      kind: 'allow';
      identityHeaders: HeaderList;
      withheld: readonly string[];
      upstreamCredentials: UpstreamCredentials;
      clientHeaders: HeaderList;
    }
  | { kind: 'deny'; status: number; headers: HeaderList; body: string };

const NO_UPSTREAM_IDENTITY: UpstreamIdentityHeaders = { headers: [], withheld: [] };
const NO_CREDENTIALS: UpstreamCredentials = [];

const NO_STORE = ['cache-control', 'no-store'] as const;
const JSON_TYPE = ['content-type', 'application/json'] as const;

/**
 * Turns a decision into redirect / 401 / 403 / 400 / 5xx. Browser navigations get redirects to
 * the Kratos login; everything else (tokens, XHR, APIs) gets JSON shaped like Kratos's errors.
 * `view` is absent only for requests too malformed to read. `upstream`: the identity_headers
 * and upstream_jwt headers made for the allow's session (or, without one, the names to withhold).
 * `credentials`: what the upstream gets of the credential headers (upstream-credentials.ts).
 */
export function answer(
  decision: Decision,
  view: RequestView | undefined,
  settings: LoginUrlSettings,
  upstream = NO_UPSTREAM_IDENTITY,
  credentials = NO_CREDENTIALS,
): Answer {
  switch (decision.kind) {
    case 'allow': {
      if (!decision.subject) {
        const withheld = [...IDENTITY_HEADERS, ...upstream.withheld];
        return {
          kind: 'allow',
          identityHeaders: [],
          withheld,
          upstreamCredentials: notIdentity(credentials, upstream),
          clientHeaders: [],
        };
      }
      return {
        kind: 'allow',
        identityHeaders: [
          ['x-kratos-identity-id', decision.subject.identityId],
          ['x-kratos-session-id', decision.subject.sessionId],
          ['x-kratos-aal', decision.subject.aal],
          ...upstream.headers,
        ],
        withheld: upstream.withheld,
        upstreamCredentials: notIdentity(credentials, upstream),
        clientHeaders: refreshedCookieHeaders(decision),
      };
    }
    case 'unauthenticated':
      return loginDenial(decision, view, settings);
    case 'aal_too_low':
    case 'refresh_required': {
      // The step-up or re-authentication is of this very session: a renewed cookie goes along,
      // or a user who abandons the login keeps one that expires before the session does.
      const denial = loginDenial(decision, view, settings);
      const cookie = refreshedCookieHeaders(decision);
      return cookie.length > 0 && denial.kind === 'deny'
        ? { ...denial, headers: [...denial.headers, ...cookie] }
        : denial;
    }
    case 'rule_deny':
      return errorAnswer(403, 'forbidden', 'Forbidden', 'Access to this resource is denied by policy.');
    case 'kratos_unavailable':
      return errorAnswer(
        503,
        'kratos_unavailable',
        'Service Unavailable',
        'The session could not be verified right now. Try again.',
        [['retry-after', '1']],
      );
    case 'bad_request':
      return errorAnswer(400, 'bad_request', 'Bad Request', `Malformed authorization request: ${decision.detail}`);
    case 'request_too_large':
      return errorAnswer(413, 'request_too_large', 'Payload Too Large', 'The request is too large to be authorized.');
    case 'request_timeout':
      return errorAnswer(
        408,
        'request_timeout',
        'Request Timeout',
        'The authorization request did not arrive in time.',
      );
    case 'untrusted_proxy':
      return errorAnswer(
        403,
        'untrusted_proxy',
        'Forbidden',
        'This peer is not in http_authz.trusted_proxies: its forwarded headers are not believed.',
      );
    case 'internal_error':
      return errorAnswer(500, 'internal_error', 'Internal Server Error', 'The request could not be authorized.');
  }
}

function loginDenial(
  decision: Extract<Decision, { kind: 'unauthenticated' | 'aal_too_low' | 'refresh_required' }>,
  view: RequestView | undefined,
  settings: LoginUrlSettings,
): Answer {
  const refresh = decision.kind === 'refresh_required';
  const stepUp = decision.kind === 'aal_too_low' || (refresh && decision.stepUp);
  const login = loginUrl(settings, { stepUp, refresh, returnTo: view && originalUrl(view, settings.allowedHosts) });
  if (view && decision.credential !== 'token' && isBrowserNavigation(view.headers)) return redirect(view.method, login);
  if (refresh) return refreshRequired(login);
  return stepUp ? aalTooLow(login) : unauthenticated(decision.credential, login);
}

/**
 * upstream_jwt.header may be `authorization`: it is then the identity's to set or withhold on
 * every allow, and the client's Authorization is no credential of the upstream's.
 */
function notIdentity(credentials: UpstreamCredentials, upstream: UpstreamIdentityHeaders): UpstreamCredentials {
  if (credentials.length === 0) return credentials;
  const owned = (name: string) =>
    upstream.withheld.includes(name) || upstream.headers.some(([header]) => header === name);
  return credentials.some(({ name }) => owned(name)) ? credentials.filter(({ name }) => !owned(name)) : credentials;
}

/** One `set-cookie` header per line whoami renewed the session cookie with, never joined. */
function refreshedCookieHeaders(decision: SessionDecision): HeaderList {
  return decision.refreshedCookie?.map((line) => ['set-cookie', line] as const) ?? [];
}

/** The `{"error":{id, code, status, message}}` denial every non-session error shares. */
export function errorAnswer(
  status: number,
  id: string,
  statusText: string,
  message: string,
  headers: HeaderList = [],
): Answer {
  return json(status, headers, { error: { id, code: status, status: statusText, message } });
}

/** 302 keeps GET/HEAD; 303 turns a form POST into a GET of the login page. */
function redirect(method: string, location: string): Answer {
  const status = method === 'GET' || method === 'HEAD' ? 302 : 303;
  return { kind: 'deny', status, headers: [['location', location], NO_STORE], body: '' };
}

function unauthenticated(credential: Decision['credential'], login: string): Answer {
  const challenge =
    credential === 'token'
      ? 'Bearer realm="kratos-ext-authz", error="invalid_token"'
      : 'Bearer realm="kratos-ext-authz"';
  const error = {
    id: 'session_inactive',
    code: 401,
    status: 'Unauthorized',
    reason: 'No valid session credentials found in the request.',
    message: 'The request could not be authorized',
  };
  // Browser code (cookie or nothing) learns where to send the user; API clients do not need it.
  const body = credential === 'token' ? { error } : { error, redirect_browser_to: login };
  return json(401, [['www-authenticate', challenge]], body);
}

function aalTooLow(login: string): Answer {
  return sessionForbidden(
    'session_aal2_required',
    'An active session was found but it does not fulfill the requested Authenticator Assurance Level. Please verify yourself with a second factor to resolve this issue.',
    'Session does not fulfill the requested Authenticator Assurance Level',
    login,
  );
}

/**
 * Kratos's privileged-session error (FlowNeedsReAuth): its id and herodot's Forbidden message;
 * the reason is reworded, as Kratos's own speaks of "updating these fields" in settings.
 */
function refreshRequired(login: string): Answer {
  return sessionForbidden(
    'session_refresh_required',
    'The login session is too old for this resource. Please re-authenticate.',
    'The requested action was forbidden',
    login,
  );
}

/** A 403 shaped like Kratos's session errors, telling browser code where to send the user. */
function sessionForbidden(id: string, reason: string, message: string, login: string): Answer {
  return json(403, [], {
    error: { id, code: 403, status: 'Forbidden', reason, message, details: { redirect_browser_to: login } },
    redirect_browser_to: login,
  });
}

function json(status: number, headers: HeaderList, body: object): Answer {
  return { kind: 'deny', status, headers: [...headers, JSON_TYPE, NO_STORE], body: JSON.stringify(body) };
}
