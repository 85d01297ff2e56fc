import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KratosVersionReading } from '../../../src/kratos/code-mfa-rule';
import { KratosVersionWatch, plannedReadingText } from '../../../src/kratos/kratos-version';
import { KratosEmulator } from '../../support/kratos-emulator';

const FAST = { timeoutMs: 500, retryMs: 30, refreshMs: 30 };

async function until(predicate: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('KratosVersionWatch', () => {
  test('an admin API that fails at start: the stricter rule, then the version once it answers', async () => {
    const kratos = await KratosEmulator.start({ kratosVersion: 'v26.2.0' });
    const heard: KratosVersionReading[] = [];
    kratos.fail('version', { mode: 'status500', count: 2 });
    const watch = new KratosVersionWatch(
      { admin_url: kratos.adminUrl, admin_token: '', version: '' },
      (reading) => heard.push(reading),
      FAST,
    );
    try {
      await watch.start();
      assert.deepEqual(
        heard.map((r) => r.rule),
        ['every_identity'],
      );
      assert.match(
        heard[0]?.known === false ? heard[0].why : '',
        /^\/admin\/version answered 500, and kratos.version is not set$/,
      );
      await until(() => heard.length === 2);
      assert.deepEqual(heard[1], { known: true, version: 'v26.2.0', source: 'admin_api', rule: 'code_address' });
      assert.equal(watch.rule(), 'code_address');
      // Refreshes that read the same version say nothing more.
      const asked = kratos.count('version');
      await until(() => kratos.count('version') >= asked + 3);
      assert.equal(heard.length, 2);
    } finally {
      await watch.stop();
      await kratos.stop();
    }
  });

  test('without an admin API: kratos.version, or the stricter rule; never a request', async () => {
    const heard: KratosVersionReading[] = [];
    const watch = new KratosVersionWatch(
      { admin_url: '', admin_token: '', version: 'v1.3.1' },
      (reading) => heard.push(reading),
      FAST,
    );
    await watch.start();
    await watch.stop();
    assert.deepEqual(heard, [{ known: true, version: 'v1.3.1', source: 'config', rule: 'every_identity' }]);
    assert.match(
      plannedReadingText({ admin_url: '', admin_token: '', version: '' }, true),
      /^Kratos version unknown \(kratos.admin_url is not set, and kratos.version is not set\): the stricter rule/,
    );
  });
});
