import type { Decision } from '../decision';
import { isBrowserNavigation } from '../request/navigation';
import type { RequestView } from '../request/view';
import { loginUrl, originalUrl, type LoginUrlSettings } from './login-url';

type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/** How Envoy must answer, independent of the wire format. */
export type Answer =
  | { kind: 'allow'; setHeaders: HeaderList; removeHeaders: readonly string[] }
  | { kind: 'deny'; status: number; grpcCode: number; headers: HeaderList; body: string };

export const IDENTITY_HEADERS = ['x-kratos-identity-id', 'x-kratos-session-id', 'x-kratos-aal'] as const;

/**
 * Client-sent spellings with "_" that some upstreams (nginx with underscores_in_headers, CGI
 * and WSGI stacks that map both to HTTP_X_KRATOS_…) read as the identity headers. Envoy's
 * headers_with_underscores_action can reject them; removing them is the cheap second guard.
 */
const IDENTITY_HEADER_LOOKALIKES = IDENTITY_HEADERS.map((name) => name.replaceAll('-', '_'));
const NO_IDENTITY = [...IDENTITY_HEADERS, ...IDENTITY_HEADER_LOOKALIKES];

// google.rpc.Code values Envoy sees in CheckResponse.status (its value does not change the
// HTTP answer, but access logs and tracing show it).
const GRPC = { unauthenticated: 16, permissionDenied: 7, resourceExhausted: 8, unavailable: 14, invalidArgument: 3, internal: 13 } as const;

const NO_STORE = ['cache-control', 'no-store'] as const;
const JSON_TYPE = ['content-type', 'application/json'] as const;

/**
 * Turns a decision into redirect / 401 / 403 / 400 / 5xx. Browser navigations get redirects to
 * the Kratos login; everything else (tokens, XHR, APIs) gets JSON shaped like Kratos's errors.
 * `view` is absent only for requests too malformed to read.
 */
export function answer(decision: Decision, view: RequestView | undefined, settings: LoginUrlSettings): Answer {
  switch (decision.kind) {
    case 'allow':
      return decision.subject
        ? {
            kind: 'allow',
            setHeaders: [
              ['x-kratos-identity-id', decision.subject.identityId],
              ['x-kratos-session-id', decision.subject.sessionId],
              ['x-kratos-aal', decision.subject.aal],
            ],
            removeHeaders: IDENTITY_HEADER_LOOKALIKES,
          }
        : { kind: 'allow', setHeaders: [], removeHeaders: NO_IDENTITY };
    case 'unauthenticated':
    case 'aal_too_low': {
      const stepUp = decision.kind === 'aal_too_low';
      const login = loginUrl(settings, { stepUp, returnTo: view && originalUrl(view, settings.allowedHosts) });
      if (view && decision.credential !== 'token' && isBrowserNavigation(view.headers)) return redirect(view.method, login);
      return stepUp ? aalTooLow(login) : unauthenticated(decision.credential, login);
    }
    case 'rule_deny':
      return json(403, GRPC.permissionDenied, [], { error: { id: 'forbidden', code: 403, status: 'Forbidden', message: 'Access to this resource is denied by policy.' } });
    case 'kratos_unavailable':
      return json(503, GRPC.unavailable, [['retry-after', '1']], {
        error: { id: 'kratos_unavailable', code: 503, status: 'Service Unavailable', message: 'The session could not be verified right now. Try again.' },
      });
    case 'bad_request':
      return json(400, GRPC.invalidArgument, [], { error: { id: 'bad_request', code: 400, status: 'Bad Request', message: `Malformed authorization request: ${decision.detail}` } });
    case 'request_too_large':
      return json(413, GRPC.resourceExhausted, [], { error: { id: 'request_too_large', code: 413, status: 'Payload Too Large', message: 'The request is too large to be authorized.' } });
    case 'internal_error':
      return json(500, GRPC.internal, [], { error: { id: 'internal_error', code: 500, status: 'Internal Server Error', message: 'The request could not be authorized.' } });
  }
}

/** 302 keeps GET/HEAD; 303 turns a form POST into a GET of the login page. */
function redirect(method: string, location: string): Answer {
  const status = method === 'GET' || method === 'HEAD' ? 302 : 303;
  return { kind: 'deny', status, grpcCode: GRPC.unauthenticated, headers: [['location', location], NO_STORE], body: '' };
}

function unauthenticated(credential: Decision['credential'], login: string): Answer {
  const challenge = credential === 'token' ? 'Bearer realm="kratos-ext-authz", error="invalid_token"' : 'Bearer realm="kratos-ext-authz"';
  const error = { id: 'session_inactive', code: 401, status: 'Unauthorized', reason: 'No valid session credentials found in the request.', message: 'The request could not be authorized' };
  // Browser code (cookie or nothing) learns where to send the user; API clients do not need it.
  const body = credential === 'token' ? { error } : { error, redirect_browser_to: login };
  return json(401, GRPC.unauthenticated, [['www-authenticate', challenge]], body);
}

function aalTooLow(login: string): Answer {
  return json(403, GRPC.permissionDenied, [], {
    error: {
      id: 'session_aal2_required',
      code: 403,
      status: 'Forbidden',
      reason: 'An active session was found but it does not fulfill the requested Authenticator Assurance Level. Please verify yourself with a second factor to resolve this issue.',
      message: 'Session does not fulfill the requested Authenticator Assurance Level',
      details: { redirect_browser_to: login },
    },
    redirect_browser_to: login,
  });
}

function json(status: number, grpcCode: number, headers: HeaderList, body: object): Answer {
  return { kind: 'deny', status, grpcCode, headers: [...headers, JSON_TYPE, NO_STORE], body: JSON.stringify(body) };
}
