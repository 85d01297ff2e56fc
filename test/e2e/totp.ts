import { createHmac } from 'node:crypto';

// RFC 6238 TOTP with Kratos's parameters (pquerna/otp defaults): HMAC-SHA1, 30-second steps,
// 6 digits. The secret is the base32 text Kratos shows in the settings flow's totp_secret_key node.

const STEP_SECONDS = 30;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(text: string): Buffer {
  const clean = text.toUpperCase().replace(/[\s=-]/g, '');
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index === -1) throw new Error(`not base32: ${JSON.stringify(char)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** The time step a Unix time (ms) falls into. */
export function totpCounter(nowMs: number = Date.now()): number {
  return Math.floor(nowMs / 1000 / STEP_SECONDS);
}

/** HOTP (RFC 4226) value for `counter`, `digits` long. */
export function hotp(key: Buffer, counter: number, digits = 6): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

export function totp(base32Secret: string, nowMs: number = Date.now(), digits = 6): string {
  return hotp(base32Decode(base32Secret), totpCounter(nowMs), digits);
}

/**
 * A code from a time step after `usedCounter`, waiting for the next step if needed, so the same
 * code is never submitted twice (Kratos may reject a replayed code).
 */
export async function freshTotp(
  base32Secret: string,
  usedCounter: number | undefined,
): Promise<{ code: string; counter: number }> {
  for (;;) {
    const now = Date.now();
    const counter = totpCounter(now);
    // Also avoid the last second of a step: the code could expire on the way to Kratos.
    const msLeftInStep = STEP_SECONDS * 1000 - (now % (STEP_SECONDS * 1000));
    if ((usedCounter === undefined || counter > usedCounter) && msLeftInStep > 2000) {
      return { code: totp(base32Secret, now), counter };
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(msLeftInStep + 50, 1000)));
  }
}
