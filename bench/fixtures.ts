/** The Kratos emulator, the sessions the scenarios send, and the service configurations. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KratosEmulator, type CreatedSession } from '../test/support/kratos-emulator';
import { browserCheckBody } from './bodies';

// Password + TOTP: the identity's highest available AAL is aal2, and the session completed
// both factors, so the default cookie policy (highest_available) allows it without an admin
// identity lookup: one whoami (or one cache lookup) per check.
const AAL2_METHODS = [
  { method: 'password', aal: 'aal1' as const },
  { method: 'totp', aal: 'aal2' as const },
];

export class Sessions {
  private created = 0;

  constructor(readonly emulator: KratosEmulator) {}

  /** A new aal2 browser session of a new identity, as the framed CheckRequest carrying its cookie. */
  newBody(): Buffer {
    const session = this.newSession();
    return browserCheckBody(this.emulator.cookieHeaderFor(session), this.created);
  }

  newBodies(count: number): Buffer[] {
    return Array.from({ length: count }, () => this.newBody());
  }

  newSession(): CreatedSession {
    this.created++;
    const identity = this.emulator.addIdentity({
      traits: { email: `bench-${this.created}@example.com` },
      credentials: {
        password: { identifiers: [`bench-${this.created}@example.com`] },
        totp: { totp_url: 'otpauth://totp/bench?secret=JBSWY3DPEHPK3PXP' },
      },
    });
    return this.emulator.createSession(identity, { methods: AAL2_METHODS });
  }
}

/**
 * whoami calls seen by the emulator. The emulator records every request with its headers, so
 * the log is drained into a running total between phases to keep the driver's memory flat.
 */
export class WhoamiTally {
  private drained = 0;

  constructor(private readonly emulator: KratosEmulator) {}

  total(): number {
    this.drained += this.emulator.count('whoami');
    this.emulator.clearRequests();
    return this.drained;
  }
}

export type CacheMode = 'on' | 'off';

// A TTL longer than any scenario, so entries expire only when a scenario wants them to (never):
// the hit scenario measures hits, not the one refresh per TTL a real deployment would see.
const BENCH_TTL = '300s';

/** Writes a service config for the emulator (JSON is valid YAML) and returns its path. */
export function writeServiceConfig(directory: string, name: string, emulator: KratosEmulator, cache: CacheMode): string {
  const config = {
    server: { grpc_address: '127.0.0.1:0', http_address: '127.0.0.1:0', shutdown_timeout: '2s' },
    kratos: { public_url: emulator.publicUrl, admin_url: emulator.adminUrl, timeout: '150ms' },
    // max_entries 0 turns both the session and identity caches off.
    cache: cache === 'on' ? { ttl: BENCH_TTL, max_entries: 100_000 } : { max_entries: 0 },
    // Allowed checks log at debug: info keeps the log quiet under load, as in production.
    log: { level: 'info' },
  };
  const path = join(directory, `${name}.yaml`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}
