import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IpAllowList, normalizeIp } from '../../src/auth/ip-rules.js';

test('* and an empty list allow everyone', () => {
  assert.ok(new IpAllowList(['*']).allows('203.0.113.9'));
  assert.ok(new IpAllowList([]).allows('2001:db8::1'));
});

test('addresses and CIDR ranges, IPv4 and IPv6', () => {
  const list = new IpAllowList(['192.168.1.100', '10.0.0.0/8', '2001:db8::/32', '::1']);
  assert.ok(list.allows('192.168.1.100'));
  assert.ok(!list.allows('192.168.1.101'));
  assert.ok(list.allows('10.255.0.1'));
  assert.ok(!list.allows('11.0.0.1'));
  assert.ok(list.allows('2001:db8:1::5'));
  assert.ok(!list.allows('2001:db9::5'));
  assert.ok(list.allows('::1'));
  assert.ok(!list.allows('127.0.0.1'), 'IPv6 loopback does not stand for IPv4 loopback');
});

test('IPv4-mapped IPv6 matches its IPv4 range, both ways', () => {
  assert.ok(new IpAllowList(['10.0.0.0/8']).allows('::ffff:10.1.2.3'));
  assert.ok(new IpAllowList(['::ffff:10.0.0.0/104']).allows('10.1.2.3'));
  assert.ok(!new IpAllowList(['10.0.0.0/8']).allows('::ffff:11.1.2.3'));
  assert.equal(normalizeIp('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(normalizeIp('2001:db8::1'), '2001:db8::1');
});

test('garbage never matches', () => {
  const list = new IpAllowList(['10.0.0.0/8']);
  for (const bad of ['', 'not-an-ip', '10.0.0', '10.0.0.1.5', '10.0.0.1/8']) assert.ok(!list.allows(bad), bad);
});

test('entries are validated strictly', async () => {
  const { isIpOrCidr } = await import('../../src/auth/ip-rules.js');
  for (const good of ['10.0.0.1', '10.0.0.0/8', '::1', '2001:db8::/32', '::ffff:10.0.0.1']) assert.ok(isIpOrCidr(good), good);
  for (const bad of ['10.0.0', '10.0.0.0/33', '300.1.1.1', '10.0.0.0/', '::1/129', 'localhost', '*', '10.0.0.0/8/8']) assert.ok(!isIpOrCidr(bad), bad);
});
