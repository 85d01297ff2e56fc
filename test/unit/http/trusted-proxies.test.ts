import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCidr } from '../../../src/config/cidr';
import { DEFAULT_TRUSTED_PROXIES } from '../../../src/config/schema';
import { trustedProxies } from '../../../src/http/trusted-proxies';

test('parseCidr: addresses, prefixes and what is neither', () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  assert.deepEqual(parseCidr('203.0.113.7'), { address: '203.0.113.7', prefix: 32, family: 'ipv4' });
  assert.deepEqual(parseCidr('fc00::/7'), { address: 'fc00::', prefix: 7, family: 'ipv6' });
  assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  for (const text of [
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    '10.0.0/8',
    'proxy.internal',
    '10.0.0.0/+8',
    '10.0.0.0/ 8',
    '',
  ]) {
    assert.equal(parseCidr(text), undefined, text);
  }
});

test('the defaults trust loopback and the private ranges, nothing public', () => {
  const trusted = trustedProxies(DEFAULT_TRUSTED_PROXIES);
  for (const peer of [
    '127.0.0.1',
    '127.9.9.9',
    '::1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    'fd12::1',
    'fc00::1',
  ])
    assert.equal(trusted(peer), true, peer);
  for (const peer of ['8.8.8.8', '172.32.0.1', '192.169.0.1', '2001:db8::1', 'fe80::1', '::2', undefined, ''])
    assert.equal(trusted(peer), false, String(peer));
});

test('an IPv4-mapped IPv6 peer (a dual-stack listener) is matched against the IPv4 ranges', () => {
  const trusted = trustedProxies(['10.0.0.0/8']);
  assert.equal(trusted('::ffff:10.1.2.3'), true);
  assert.equal(trusted('::ffff:11.1.2.3'), false);
});

test('an empty list trusts nobody; 0.0.0.0/0 and ::/0 trust everybody', () => {
  assert.equal(trustedProxies([])('127.0.0.1'), false);
  const everybody = trustedProxies(['0.0.0.0/0', '::/0']);
  assert.equal(everybody('8.8.8.8'), true);
  assert.equal(everybody('2001:db8::1'), true);
});
