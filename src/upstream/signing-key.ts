import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/load';

export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256';

/** A public key as /.well-known/jwks.json publishes it: never a private member. */
export interface PublicJwk {
  kty: string;
  kid: string;
  alg: SigningAlg;
  use: 'sig';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

// Below this an RSA key is breakable by a determined attacker (NIST SP 800-131A).
const MIN_RSA_BITS = 2048;

/**
 * One upstream_jwt.keys file, read and checked: its private key, the algorithm its type fixes,
 * and its public JWK with `kid` = the RFC 7638 thumbprint.
 */
export class SigningKey {
  private constructor(
    readonly alg: SigningAlg,
    readonly privateKey: KeyObject,
    readonly publicJwk: PublicJwk,
  ) {}

  get kid(): string {
    return this.publicJwk.kid;
  }

  /** Throws an Error whose message says what is wrong with the file, never what is in it. */
  static load(file: string): SigningKey {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: pem, format: 'pem' });
    } catch {
      throw new Error(`${file} is not an unencrypted PEM private key (PKCS#8, SEC1 or PKCS#1)`);
    }
    const alg = algorithmOf(privateKey, file);
    const members = publicMembers(createPublicKey(privateKey).export({ format: 'jwk' }));
    return new SigningKey(alg, privateKey, { ...members, kid: thumbprintOf(members), alg, use: 'sig' });
  }
}

/**
 * upstream_jwt.keys, read and checked in order, the first to sign. The configuration holds only
 * the file names: keys are read here, by whatever builds a signer from them (start-up, each
 * reload, check-config), so a reload with a bad key keeps the running keys. Every bad file and
 * every key listed twice is one problem line naming its place in the list.
 */
export function loadSigningKeys(files: readonly string[]): SigningKey[] {
  const problems: string[] = [];
  const firstByKid = new Map<string, number>();
  const keys = files.flatMap((file, index) => {
    try {
      const key = SigningKey.load(file);
      const first = firstByKid.get(key.kid);
      if (first !== undefined)
        problems.push(`upstream_jwt.keys[${index}]: is the same key as upstream_jwt.keys[${first}]`);
      firstByKid.set(key.kid, first ?? index);
      return [key];
    } catch (error) {
      problems.push(`upstream_jwt.keys[${index}]: ${error instanceof Error ? error.message : String(error)}`);
      return [];
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return keys;
}

function algorithmOf(key: KeyObject, file: string): SigningAlg {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (details?.namedCurve === 'prime256v1') return 'ES256';
      throw new Error(
        `${file} is an EC key on ${details?.namedCurve ?? 'an unknown curve'}: only P-256 (ES256) is supported`,
      );
    case 'ed25519':
      return 'EdDSA';
    case 'rsa':
      if ((details?.modulusLength ?? 0) >= MIN_RSA_BITS) return 'RS256';
      throw new Error(
        `${file} is a ${details?.modulusLength ?? '?'}-bit RSA key: at least ${MIN_RSA_BITS} bits are needed`,
      );
    default:
      throw new Error(
        `${file} is a ${key.asymmetricKeyType ?? 'unknown'} key: only EC P-256 (ES256), Ed25519 (EdDSA) and RSA (RS256) keys are supported`,
      );
  }
}

/** The members RFC 7518/8037 define for the public key of each type; nothing else is copied. */
function publicMembers(jwk: JsonWebKey): Omit<PublicJwk, 'kid' | 'alg' | 'use'> {
  const kty = String(jwk.kty);
  if (kty === 'EC') return { kty, crv: String(jwk.crv), x: String(jwk.x), y: String(jwk.y) };
  if (kty === 'OKP') return { kty, crv: String(jwk.crv), x: String(jwk.x) };
  return { kty, n: String(jwk.n), e: String(jwk.e) };
}

/**
 * RFC 7638: SHA-256 over the JSON of the required members in lexicographic order, no spaces.
 * Computed here (jose's is async, config loading is not); a test checks it against jose's.
 */
function thumbprintOf(members: Omit<PublicJwk, 'kid' | 'alg' | 'use'>): string {
  const required =
    members.kty === 'RSA'
      ? { e: members.e, kty: members.kty, n: members.n }
      : members.kty === 'EC'
        ? { crv: members.crv, kty: members.kty, x: members.x, y: members.y }
        : { crv: members.crv, kty: members.kty, x: members.x };
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}
