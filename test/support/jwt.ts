/**
 * Signing keys for upstream_jwt tests, and an independent verifier: node:crypto alone (not
 * jose, which signs them), against the JWK Set the service publishes on its ops port.
 */
import { createPublicKey, generateKeyPairSync, verify, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KeyType = 'ES256' | 'EdDSA' | 'RS256';
export const KEY_TYPES: readonly KeyType[] = ['ES256', 'EdDSA', 'RS256'];

const keyDir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-keys-'));
let written = 0;

/** A fresh private key of that type as a PKCS#8 PEM file; its path. */
export function writeSigningKey(type: KeyType): string {
  const { privateKey } =
    type === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = join(keyDir, `${type}-${++written}.pem`);
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  return file;
}

/** A file of any content, e.g. a key the service must refuse. */
export function writeKeyFile(name: string, content: string | Buffer): string {
  const file = join(keyDir, `${++written}-${name}`);
  writeFileSync(file, content);
  return file;
}

export interface Jwk extends JsonWebKey {
  kid: string;
  alg: string;
  use: string;
}

export interface Jwks {
  keys: Jwk[];
  status: number;
  cacheControl: string | null;
  contentType: string | null;
}

export function fetchJwks(httpPort: number): Promise<Jwks> {
  return fetchJwksFrom(`http://127.0.0.1:${httpPort}`);
}

/** `/.well-known/jwks.json` under the service's ops URL. */
export async function fetchJwksFrom(opsUrl: string): Promise<Jwks> {
  const response = await fetch(`${opsUrl}/.well-known/jwks.json`);
  const text = await response.text();
  const keys = response.status === 200 ? (JSON.parse(text) as { keys: Jwk[] }).keys : [];
  return {
    keys,
    status: response.status,
    cacheControl: response.headers.get('cache-control'),
    contentType: response.headers.get('content-type'),
  };
}

export interface VerifiedJwt {
  header: { alg: string; kid: string; typ?: string };
  payload: Record<string, unknown> & {
    iss: string;
    aud: string | string[];
    sub: string;
    sid: string;
    aal: string;
    amr: string[];
    iat: number;
    nbf: number;
    exp: number;
    jti: string;
  };
}

/** Throws unless the compact JWS is signed by the key of its kid in `jwks`, with that key's alg, and is valid now. */
export function verifyJwt(token: string, jwks: readonly Jwk[], now = Date.now()): VerifiedJwt {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not a compact JWS');
  const [encodedHeader = '', encodedPayload = '', encodedSignature = ''] = parts;
  const header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8')) as VerifiedJwt['header'];
  const jwk = jwks.find((key) => key.kid === header.kid);
  if (!jwk) throw new Error(`no published key has kid ${header.kid}`);
  if (jwk.alg !== header.alg) throw new Error(`alg ${header.alg} is not the key's ${jwk.alg}`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${encodedHeader}.${encodedPayload}`);
  const signature = Buffer.from(encodedSignature, 'base64url');
  const valid =
    header.alg === 'ES256'
      ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature)
      : header.alg === 'EdDSA'
        ? verify(null, data, key, signature)
        : header.alg === 'RS256'
          ? verify('sha256', data, key, signature)
          : false;
  if (!valid) throw new Error('signature does not verify');
  const payload = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString('utf8')) as VerifiedJwt['payload'];
  const seconds = now / 1000;
  if (!(payload.exp > seconds)) throw new Error('expired');
  if (!(payload.nbf <= seconds + 1)) throw new Error('not yet valid');
  return { header, payload };
}

/** The token with one payload claim changed and the original signature kept. */
export function tamperedClaim(token: string, claim: string, value: unknown): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const changed = { ...(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as object), [claim]: value };
  return `${header}.${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${signature}`;
}
