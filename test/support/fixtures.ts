// The request headers and session shapes the wire, proxy and differential tests share.
import type { EmulatorCredentials } from './kratos-emulator';

/** A browser's top-level navigation, as Chromium sends it: answered with a login redirect. */
export const NAVIGATE = {
  'sec-fetch-mode': 'navigate',
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
} as const;

/** A script's fetch: answered with a JSON 401/403, never a redirect. */
export const XHR = { 'sec-fetch-mode': 'cors', accept: 'application/json' } as const;

/** An identity with a TOTP second factor: its highest available AAL is aal2. */
export const TOTP: EmulatorCredentials = {
  totp: { totp_url: 'otpauth://totp/app:alice?secret=JBSWY3DPEHPK3PXP&issuer=app' },
};

/** A session's authentication_methods after the password only, and after the second factor. */
export const AAL1 = [{ method: 'password', aal: 'aal1' as const }];
export const AAL2 = [...AAL1, { method: 'totp', aal: 'aal2' as const }];
