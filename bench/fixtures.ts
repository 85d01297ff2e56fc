/** The request bodies the scenarios send, and the service configurations. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { browserCheckBody } from './bodies';
import type { KratosProcess } from './kratos-process';

/** New aal2 sessions on the emulator, as framed CheckRequests carrying their cookies. */
export class Sessions {
  private made = 0;

  constructor(private readonly kratos: KratosProcess) {}

  async newBodies(count: number): Promise<Buffer[]> {
    const cookies = await this.kratos.newCookies(count);
    return cookies.map((cookie) => browserCheckBody(cookie, this.made++));
  }

  async newBody(): Promise<Buffer> {
    return (await this.newBodies(1))[0] as Buffer;
  }

  async newCookie(): Promise<string> {
    return (await this.kratos.newCookies(1))[0] as string;
  }
}

export type CacheMode = 'on' | 'off';

// A TTL longer than any phase, so no entry expires mid-run: the hit scenario measures hits,
// not the one refresh per TTL a real deployment would also see. The Envoy phase's variants
// take turns for over 5 minutes: at 300 s, each h2load process's credential was asked again.
const BENCH_TTL = '3600s';

/** Where the service finds Kratos: the emulator, or the real one (envoy-scenarios.ts). */
export interface KratosUrls {
  readonly publicUrl: string;
  readonly adminUrl: string;
}

/**
 * Writes a service config (JSON is valid YAML) and returns its path. `policy` is merged over the
 * defaults (browser cookies `highest_available`, tokens `aal1`); `ttl` is the cache's when on.
 */
export function writeServiceConfig(
  directory: string,
  name: string,
  kratos: KratosUrls,
  cache: CacheMode,
  policy: Record<string, string> = {},
  ttl = BENCH_TTL,
): string {
  const config = {
    server: {
      grpc_address: '127.0.0.1:0',
      http_address: '127.0.0.1:0',
      http_authz_address: '127.0.0.1:0',
      shutdown_timeout: '2s',
    },
    kratos: { public_url: kratos.publicUrl, admin_url: kratos.adminUrl, timeout: '150ms' },
    policy,
    // max_entries 0 turns both the session and identity caches off.
    cache: cache === 'on' ? { ttl, max_entries: 100_000 } : { max_entries: 0 },
    // Allowed checks log at debug: info keeps the log quiet under load, as in production.
    log: { level: 'info' },
  };
  const path = join(directory, `${name}.yaml`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}
