/**
 * The real service on loopback beside the Kratos emulator, with a client built from Envoy's
 * official protos. Log lines are captured so tests can read (and grep) them.
 */
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { createLogger } from '../../src/observability/logger';
import { startService, type RunningService } from '../../src/server/service';
import { EnvoyClient } from './envoy-client';
import { AuthzHttpClient } from './http-client';
import { KratosEmulator, type CreatedSession, type EmulatorOptions } from './kratos-emulator';

type Section = Record<string, unknown>;
export interface HarnessOptions {
  emulator?: EmulatorOptions;
  /** Config sections merged over the harness defaults (loopback ports, emulator URLs). */
  config?: { [section: string]: Section };
}

export interface Harness {
  emulator: KratosEmulator;
  service: RunningService;
  client: EnvoyClient;
  /** The HTTP front doors' client; undefined when a test turned the listener off. */
  http: AuthzHttpClient | undefined;
  config: Config;
  /** Every log line the service wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** The raw log text, for credential greps. */
  rawLogs(): string;
  /** createSession on the emulator, remembering its token and cookie for the log grep. */
  newSession(identityId: string, spec?: Parameters<KratosEmulator['createSession']>[1]): CreatedSession;
  /** Remembers a made-up credential a test sends, for the log grep. */
  remember<T extends string>(credential: T): T;
  /** Stops everything, then fails if any log line contains a credential the tests used. */
  close(): Promise<void>;
}

/** Every raw log line any harness produced in this process, for the suite-wide credential grep. */
export const allRawLogLines: string[] = [];

/** A harness for the length of `body`, closed whatever the body throws. */
export async function withHarness(options: HarnessOptions, body: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startHarness(options);
  try {
    await body(h);
  } finally {
    await h.close();
  }
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const emulator = await KratosEmulator.start(options.emulator);
  const overrides = options.config ?? {};
  const document = {
    ...overrides,
    server: {
      grpc_address: '127.0.0.1:0',
      http_address: '127.0.0.1:0',
      http_authz_address: '127.0.0.1:0',
      shutdown_timeout: '2s',
      ...overrides.server,
    },
    kratos: { public_url: emulator.publicUrl, admin_url: emulator.adminUrl, ...overrides.kratos },
    log: { level: 'debug', ...overrides.log },
    // Off unless a test turns it on, so each check's Kratos traffic is its own.
    cache: { ttl: '0s', negative_ttl: '0s', identity_ttl: '0s', ...overrides.cache },
  };
  let config: Config;
  try {
    config = parseConfig(document, {});
  } catch (error) {
    await emulator.stop();
    throw error;
  }
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        lines.push(line);
        allRawLogLines.push(line);
      }
      done();
    },
  });
  const service = await startService(config, createLogger(config.log, sink));
  const client = new EnvoyClient(service.grpcPort);
  const httpClient = service.httpAuthzPort === undefined ? undefined : new AuthzHttpClient(service.httpAuthzPort);
  const credentials = new Set<string>();
  return {
    emulator,
    service,
    client,
    http: httpClient,
    config,
    get logs() {
      return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    rawLogs: () => lines.join('\n'),
    newSession: (identityId, spec) => {
      const session = emulator.createSession(identityId, spec);
      credentials.add(session.token);
      credentials.add(session.cookie);
      return session;
    },
    remember: (credential) => {
      credentials.add(credential);
      return credential;
    },
    close: async () => {
      client.close();
      httpClient?.close();
      await service.shutdown();
      await emulator.stop();
      const leaked = [...credentials].filter(
        (credential) => credential.length >= 8 && lines.some((line) => line.includes(credential)),
      );
      if (leaked.length > 0) throw new Error(`${leaked.length} credential(s) appeared in the service's log`);
    },
  };
}
