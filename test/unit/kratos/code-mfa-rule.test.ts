import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  codeMfaRuleOf,
  describeReading,
  readingOf,
  unknownVersion,
  type CodeMfaRule,
} from '../../../src/kratos/code-mfa-rule';

describe('codeMfaRuleOf: the code-MFA rule of a Kratos version (v25.4.0 changed it)', () => {
  const cases: ReadonlyArray<[string, CodeMfaRule | undefined]> = [
    ['v1.3.1', 'every_identity'],
    ['v1.1.0', 'every_identity'],
    ['v0.13.0', 'every_identity'],
    ['v25.3.9', 'every_identity'],
    ['v25.4.0-pre.1', 'every_identity'],
    ['v25.4.0', 'code_address'],
    ['25.4.0', 'code_address'],
    ['v25.4.1', 'code_address'],
    ['v26.2.0', 'code_address'],
    ['v26.2.0+build.7', 'code_address'],
    ['v100.0.0', 'code_address'],
    ['master', undefined],
    ['', undefined],
    ['9d7085948039', undefined],
    ['v26.2', undefined],
  ];
  for (const [version, rule] of cases) {
    test(`${JSON.stringify(version)} → ${rule ?? 'no release version'}`, () =>
      assert.equal(codeMfaRuleOf(version), rule));
  }

  test('an unreadable version gets the stricter rule, with the reason', () => {
    const reading = readingOf('master', 'admin_api');
    assert.equal(reading.known, false);
    assert.equal(reading.rule, 'every_identity');
    assert.match(
      describeReading(reading, true),
      /^Kratos version unknown \(the admin API reported "master", not a release version\): the stricter rule; code MFA rule every_identity/,
    );
  });

  test('the description names the version, where it came from and whether the rule applies', () => {
    assert.equal(
      describeReading(readingOf('v26.2.0', 'config'), false),
      'Kratos v26.2.0 (from kratos.version); code MFA rule code_address: identities whose code credential has an address are aal2-available (Kratos v25.4.0 and later) (not applied: kratos.code_mfa_enabled is false)',
    );
    assert.match(
      describeReading(unknownVersion('x'), true),
      /every identity is aal2-available \(Kratos up to v1\.3\.x\)$/,
    );
  });
});
