/**
 * server.shutdown_timeout bounds the whole stop, whatever Kratos does: Kubernetes sends SIGKILL
 * after terminationGracePeriodSeconds, so a stop that waits for a hung Kratos is a kill.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EnvoyClient } from '../support/envoy-client';
import { BIN, serveBin } from '../support/executable';
import { KratosEmulator } from '../support/kratos-emulator';

const SHUTDOWN_TIMEOUT_MS = 1_000;
// Starting the process is not measured, only the stop: this leaves room for a loaded machine.
const STOP_MARGIN_MS = 1_000;

let emulator: KratosEmulator;
before(async () => (emulator = await KratosEmulator.start()));
after(() => emulator.stop());

test('SIGTERM with checks stuck on a hung Kratos (kratos.timeout far above server.shutdown_timeout) exits within shutdown_timeout', async () => {
  const config = join(mkdtempSync(join(tmpdir(), 'kratos-ext-authz-')), 'hung.yaml');
  writeFileSync(
    config,
    `server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: "127.0.0.1:0", shutdown_timeout: ${SHUTDOWN_TIMEOUT_MS}ms}\n` +
      `kratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}", timeout: 10s}\n`,
  );
  const { child, grpcPort, logs, exited } = await serveBin(process.execPath, [BIN, '--config', config]);
  const httpAuthzPort = Number(logs.find((line) => line.msg === 'serving')?.http_authz_port);
  const client = new EnvoyClient(grpcPort);
  try {
    emulator.fail('whoami', { mode: 'hang', count: 2 });
    const before = emulator.count('whoami');
    const grpcCheck = client
      .check({ headers: { 'x-session-token': emulator.createSession(emulator.addIdentity()).token } })
      .catch((error: Error) => error);
    const httpCheck = fetch(`http://127.0.0.1:${httpAuthzPort}/forward-auth`, {
      headers: {
        'x-session-token': emulator.createSession(emulator.addIdentity()).token,
        'x-forwarded-method': 'GET',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'app.example.com',
        'x-forwarded-uri': '/',
      },
    }).catch((error: Error) => error);
    const waitUntil = Date.now() + 10_000;
    while (emulator.count('whoami') - before < 2) {
      assert.ok(Date.now() < waitUntil, 'both checks reach the hung Kratos');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }

    const signalled = Date.now();
    child.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<'still running'>((resolve) =>
        setTimeout(() => resolve('still running'), SHUTDOWN_TIMEOUT_MS + STOP_MARGIN_MS),
      ),
    ]);
    assert.equal(code, 0, `exit code ${String(code)} ${Date.now() - signalled} ms after SIGTERM`);
    // Neither check got an allow: their connections were cut.
    assert.ok((await grpcCheck) instanceof Error);
    const http = await httpCheck;
    assert.ok(http instanceof Error || http.status !== 200);
  } finally {
    child.kill('SIGKILL');
    emulator.clearFaults();
    client.close();
  }
});
