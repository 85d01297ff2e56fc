// A real browser (Debian's Chromium driven by playwright-core) through the real stack: it proves
// the browser/API classification against the headers a browser really sends. Navigation without
// a session → the demo UI's login page → password → back at the app with identity headers;
// TOTP enrolled in the UI's settings page; a new browser's next navigation is sent to the
// step-up, where a fetch() from the page at aal1 gets the 403 JSON (not a redirect); the TOTP
// code brings it back to the app at aal2. After an admin extend, the next navigation leaves
// Chromium with the renewed session cookie. Screenshots are written on failure.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { parseDuration } from '../../src/config/duration';
import { readProjectYaml } from '../../stack/configs';
import { projectRoot } from '../../stack/project-root';
import { credentialTypes, registerWithPassword, type ApiSession } from './kratos';
import { API, field, send } from './http';
import { freePorts } from '../../stack/ports';
import { skipOrFailInCi, stackFactories } from './plans';
import { withStack } from './run-stack';
import type { Stack, StackPlan, Variant } from './stack';
import { freshTotp } from './totp';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SHOTS = join(projectRoot, 'dist', 'e2e-screenshots');

/** A cache duration of envoy/config.yaml, which the stack's service runs with. */
function cacheSettingMs(key: 'ttl' | 'identity_ttl'): number {
  const cache = readProjectYaml('envoy/config.yaml').cache;
  const ttl = typeof cache === 'object' && cache !== null && !Array.isArray(cache) ? cache[key] : undefined;
  const ms = typeof ttl === 'string' ? parseDuration(ttl) : undefined;
  assert.ok(ms !== undefined, `envoy/config.yaml has cache.${key}`);
  return ms;
}

function identityTtlMs(): number {
  return cacheSettingMs('identity_ttl');
}

async function adminTraits(adminUrl: string, identityId: string): Promise<unknown> {
  return field(
    (await send(`${adminUrl}/admin/identities/${encodeURIComponent(identityId)}`, { headers: API })).json,
    'traits',
  );
}

/**
 * The stack with the newest Envoy of each kind E2E_STACK selects (`variant` applied), none when
 * the test was skipped (no Chromium): one Envoy is enough for a browser, the e2e story covers
 * every version.
 */
async function newestStacks(t: TestContext, variant?: Variant): Promise<StackPlan[]> {
  if (!existsSync(CHROMIUM)) return skipOrFailInCi(t, `no ${CHROMIUM} (apt-get install -y chromium)`) ?? [];
  return (await stackFactories(t)).flatMap((factory) => {
    const envoy = factory.envoyVersions.at(-1);
    return envoy === undefined ? [] : [factory.plan(envoy, variant)];
  });
}

interface ChromiumRun {
  stack: Stack;
  browser: Browser;
  /** A user registered with a password (through the API) before Chromium starts. */
  email: string;
  password: string;
  registered: ApiSession;
  /** Pages to screenshot if the test fails. */
  pages: Page[];
  /** Names the step the test is at, for the screenshots' names. */
  at(step: string): void;
}

/**
 * `body` on the newest Envoy of each selected stack kind (`variant` applied), with a registered
 * user and Chromium; on failure every page in `pages` is screenshotted as `<name>-<step>-<n>.png`.
 */
async function inChromium(
  t: TestContext,
  name: string,
  variant: Variant | undefined,
  body: (run: ChromiumRun) => Promise<void>,
): Promise<void> {
  for (const plan of await newestStacks(t, variant)) {
    await t.test(plan.description, () =>
      withStack(plan, async (stack) => {
        const email = `${name}-${randomUUID()}@example.com`;
        const password = `Pw-${name}-${randomUUID()}`;
        const registered = await registerWithPassword(stack.baseUrl, email, password);
        const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
        const pages: Page[] = [];
        let step = 'start';
        try {
          await body({ stack, browser, email, password, registered, pages, at: (next) => (step = next) });
          return true;
        } catch (error) {
          mkdirSync(SHOTS, { recursive: true });
          for (const [index, page] of pages.entries()) {
            const file = join(SHOTS, `${name}-${step.replace(/\W+/g, '-')}-${index}.png`);
            await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
            process.stderr.write(`${name} browser test failed at ${step}: screenshot ${file} (${page.url()})\n`);
          }
          throw error;
        } finally {
          await browser.close();
        }
      }),
    );
  }
}

/**
 * A new browser context whose page has Chromium's virtual authenticator (user verified, presence
 * automatic); the page joins `pages`.
 */
async function withAuthenticator(
  browser: Browser,
  pages: Page[],
  kind: { transport: 'usb' | 'internal'; hasResidentKey: boolean },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  pages.push(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ...kind,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { context, page };
}

/** The echo upstream's JSON as the browser shows it. */
async function echoed(page: Page): Promise<Record<string, unknown>> {
  const text = (await page.textContent('body')) ?? '';
  try {
    const body = JSON.parse(text) as { headers?: Record<string, unknown> };
    assert.ok(body.headers, text.slice(0, 500));
    return body.headers;
  } catch {
    assert.fail(`expected the echo upstream's JSON at ${page.url()}, got: ${text.slice(0, 500)}`);
  }
}

async function passwordLogin(page: Page, email: string, password: string): Promise<void> {
  await page.fill('form[data-group=password] input[name=identifier]', email);
  await page.fill('form[data-group=password] input[name=password]', password);
  await Promise.all([page.waitForNavigation(), page.click('button[name=method][value=password]')]);
}

test(
  'browser: login UI, TOTP enrolment in settings, step-up on the next navigation, XHR gets 403 JSON',
  { timeout: 5 * 60_000 },
  async (t) => {
    await inChromium(t, 'browser', undefined, async ({ stack, browser, email, password, registered, pages, at }) => {
      const base = stack.baseUrl;
      // 1. No session: the app sends the browser to the demo UI's login page.
      at('login');
      const first = await (await browser.newContext()).newPage();
      pages.push(first);
      await first.goto(`${base}/app/dashboard?tab=1`);
      assert.equal(new URL(first.url()).pathname, '/ui/login', `landed on ${first.url()}`);
      await passwordLogin(first, email, password);
      assert.equal(first.url(), `${base}/app/dashboard?tab=1`);
      const headers = await echoed(first);
      assert.equal(headers['x-kratos-identity-id'], registered.identityId);
      assert.equal(headers['x-kratos-aal'], 'aal1');

      // 2. Enrol TOTP in the UI's settings page (secret read from the page, code computed here).
      at('settings');
      await first.goto(`${base}/ui/settings`);
      assert.equal(new URL(first.url()).pathname, '/ui/settings');
      const secret = ((await first.textContent('code#totp_secret_key')) ?? '').trim();
      assert.match(secret, /^[A-Z2-7]+=*$/, 'the settings page shows the TOTP secret');
      const enrol = await freshTotp(secret, undefined);
      await first.fill('input[name=totp_code]', enrol.code);
      await Promise.all([first.waitForNavigation(), first.click('button[name=method][value=totp]')]);
      assert.ok(
        (await credentialTypes(stack.kratosAdminUrl, registered.identityId)).includes('totp'),
        'Kratos stored the TOTP credential',
      );

      // 3. A second browser logs in with the password only: its next navigation is sent to the
      // step-up. The service caches an identity's available AAL for cache.identity_ttl (it saw
      // aal1 at step 1), so wait that long first: the documented delay before a new factor counts.
      at('step-up');
      await new Promise((resolve) => setTimeout(resolve, identityTtlMs() + 500));
      const second = await (await browser.newContext()).newPage();
      pages.push(second);
      await second.goto(`${base}/app/reports`);
      await passwordLogin(second, email, password);
      const stepUp = new URL(second.url());
      assert.equal(stepUp.pathname, '/ui/login', `sent to ${second.url()}`);
      assert.match((await second.textContent('h1')) ?? '', /second factor/);
      // A fetch() from the page at aal1: 403 JSON, never a redirect to the login page.
      const xhr = await second.evaluate(async () => {
        const response = await fetch('/app/api/items', { headers: { accept: 'application/json' } });
        return { status: response.status, redirected: response.redirected, body: await response.text() };
      });
      assert.equal(xhr.status, 403, xhr.body);
      assert.equal(xhr.redirected, false);
      assert.equal((JSON.parse(xhr.body) as { error?: { id?: string } }).error?.id, 'session_aal2_required');

      // 4. The TOTP code: back at the app, at aal2.
      at('totp');
      const login = await freshTotp(secret, enrol.counter);
      await second.fill('input[name=totp_code]', login.code);
      await Promise.all([second.waitForNavigation(), second.click('button[name=method][value=totp]')]);
      assert.equal(second.url(), `${base}/app/reports`);
      const after = await echoed(second);
      assert.equal(after['x-kratos-identity-id'], registered.identityId);
      assert.equal(after['x-kratos-aal'], 'aal2');
    });
  },
);

test(
  'browser: a WebAuthn security key (Chromium virtual authenticator) is a second factor, a passkey is not',
  { timeout: 5 * 60_000 },
  async (t) => {
    // A WebAuthn relying party ID cannot be an IP address: this stack serves every browser URL
    // on localhost, with Kratos's webauthn method on as a second factor (passwordless off).
    const [port = 0] = await freePorts(1);
    const origin = `http://localhost:${port}`;
    const keys: Variant = {
      name: 'localhost, selfservice.methods.webauthn (second factor)',
      ports: { envoy: port },
      publicHost: 'localhost',
      kratosOverrides: {
        selfservice: {
          methods: {
            webauthn: {
              enabled: true,
              config: {
                passwordless: false,
                rp: { id: 'localhost', display_name: 'kratos-ext-authz demo', origins: [origin] },
              },
            },
            passkey: {
              enabled: true,
              config: { rp: { id: 'localhost', display_name: 'kratos-ext-authz demo', origins: [origin] } },
            },
          },
        },
      },
    };
    await inChromium(t, 'webauthn', keys, async ({ stack, browser, email, password, registered, pages, at }) => {
      const base = stack.baseUrl;
      // A security key: not discoverable, so never a passkey.
      const { context, page } = await withAuthenticator(browser, pages, { transport: 'usb', hasResidentKey: false });
      await page.goto(`${base}/app/keys`);
      await passwordLogin(page, email, password);
      assert.equal((await echoed(page))['x-kratos-aal'], 'aal1');

      at('enrol key');
      await page.goto(`${base}/ui/settings`);
      await page.fill('form[data-group=webauthn] input[name=webauthn_register_displayname]', 'virtual key');
      await Promise.all([
        page.waitForNavigation(),
        page.click('form[data-group=webauthn] button[name=webauthn_register_trigger]'),
      ]);
      const identity = await send(
        `${stack.kratosAdminUrl}/admin/identities/${registered.identityId}?include_credential=webauthn`,
        { headers: API },
      );
      const keys = field(identity.json, 'credentials', 'webauthn', 'config', 'credentials');
      assert.ok(Array.isArray(keys) && keys.length === 1, `one WebAuthn key stored: ${identity.text.slice(0, 500)}`);
      assert.equal(field(keys[0], 'is_passwordless'), false);

      at('step-up');
      await new Promise((resolve) => setTimeout(resolve, identityTtlMs() + 500));
      await context.clearCookies();
      await page.goto(`${base}/app/keys`);
      await passwordLogin(page, email, password);
      assert.equal(new URL(page.url()).pathname, '/ui/login', `sent to ${page.url()}`);
      await Promise.all([
        page.waitForNavigation(),
        page.click('form[data-group=webauthn] button[name=webauthn_login_trigger]'),
      ]);
      assert.equal(page.url(), `${base}/app/keys`);
      const after = await echoed(page);
      assert.equal(after['x-kratos-identity-id'], registered.identityId);
      assert.equal(after['x-kratos-aal'], 'aal2');

      // A second identity enrols only a passkey (a first factor): its password login is never
      // sent to a step-up.
      at('passkey');
      const other = await registerWithPassword(base, `passkey-${randomUUID()}@example.com`, password);
      // A platform authenticator with discoverable credentials: a passkey.
      const { context: passkeyContext, page: passkeyPage } = await withAuthenticator(browser, pages, {
        transport: 'internal',
        hasResidentKey: true,
      });
      await passkeyPage.goto(`${base}/app/passkey`);
      await passwordLogin(
        passkeyPage,
        String(field(await adminTraits(stack.kratosAdminUrl, other.identityId), 'email')),
        password,
      );
      await passkeyPage.goto(`${base}/ui/settings`);
      await Promise.all([
        passkeyPage.waitForNavigation(),
        passkeyPage.click('form[data-group=passkey] button[name=passkey_register_trigger]'),
      ]);
      const types = await credentialTypes(stack.kratosAdminUrl, other.identityId);
      assert.ok(types.includes('passkey'), `a passkey is stored: ${types.join(', ')}`);
      const passkeyIdentity = await send(
        `${stack.kratosAdminUrl}/admin/identities/${other.identityId}?include_credential=webauthn`,
        { headers: API },
      );
      process.stderr.write(
        `passkey-only identity, credentials as Kratos ${stack.description} stores them: ${JSON.stringify(field(passkeyIdentity.json, 'credentials'))}\n`,
      );
      const webauthnKeys = field(passkeyIdentity.json, 'credentials', 'webauthn', 'config', 'credentials');
      assert.ok(
        !Array.isArray(webauthnKeys) || webauthnKeys.every((key) => field(key, 'is_passwordless') === true),
        'no WebAuthn second-factor key',
      );
      await new Promise((resolve) => setTimeout(resolve, identityTtlMs() + 500));
      await passkeyContext.clearCookies();
      await passkeyPage.goto(`${base}/app/passkey`);
      await passwordLogin(
        passkeyPage,
        String(field(await adminTraits(stack.kratosAdminUrl, other.identityId), 'email')),
        password,
      );
      assert.equal(passkeyPage.url(), `${base}/app/passkey`, 'no step-up for a passkey-only identity');
      assert.equal((await echoed(passkeyPage))['x-kratos-aal'], 'aal1');
    });
  },
);

test(
  'browser: after an admin extend, the next navigation leaves Chromium with the renewed session cookie',
  { timeout: 5 * 60_000 },
  async (t) => {
    await inChromium(t, 'renewed-cookie', undefined, async ({ stack, browser, email, password, registered, pages }) => {
      const base = stack.baseUrl;
      const context = await browser.newContext();
      const page = await context.newPage();
      pages.push(page);
      const sessionCookie = async () =>
        (await context.cookies(base)).find((cookie) => cookie.name === 'ory_kratos_session');
      await page.goto(`${base}/app/renew`);
      await passwordLogin(page, email, password);
      assert.equal((await echoed(page))['x-kratos-identity-id'], registered.identityId);
      const before = await sessionCookie();
      assert.ok(before, 'Chromium holds the session cookie');
      // Before the extend, so Kratos has nothing to renew on this whoami.
      const sessionId = await page.evaluate(
        async () =>
          (
            (await (await fetch('/sessions/whoami', { headers: { accept: 'application/json' } })).json()) as {
              id: string;
            }
          ).id,
      );
      const extended = await send(`${stack.kratosAdminUrl}/admin/sessions/${encodeURIComponent(sessionId)}/extend`, {
        method: 'PATCH',
        headers: API,
      });
      assert.ok(extended.status === 200 || extended.status === 204, `extend: HTTP ${extended.status}`);
      // The service's cached answer for the old cookie carries no renewal: let it expire.
      await new Promise((resolve) => setTimeout(resolve, cacheSettingMs('ttl') + 500));

      await page.goto(`${base}/app/renew?after=extend`);
      assert.equal((await echoed(page))['x-kratos-identity-id'], registered.identityId);
      const after = await sessionCookie();
      assert.ok(after && after.value !== before.value, 'Chromium took the renewed cookie');
      assert.ok(after.expires > before.expires, `a later expiry: ${after.expires} > ${before.expires}`);
      assert.equal(after.httpOnly, true);
      await page.goto(`${base}/app/renew?again=1`);
      assert.equal((await echoed(page))['x-kratos-identity-id'], registered.identityId);
      assert.equal((await sessionCookie())?.value, after.value, 'nothing more to renew');
    });
  },
);
