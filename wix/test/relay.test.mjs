// The kit against a real relay (started by `go test ./wix/`): the signed
// client, connectAccount, createTransaction's mapping and its failures.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';

import { client, plugin, demo, useRelay, NO_RELAY } from '../testing/kit.mjs';

const d = demo();
const skip = d ? false : NO_RELAY;

function txn(over = {}) {
  const id = crypto.randomUUID();
  const ret = (r) => `${d.shop}/return?order=${id}&result=${r}`;
  return {
    wixTransactionId: crypto.randomUUID(),
    paymentMethod: 'posrelay',
    merchantCredentials: { bank: 'halkbank', keyId: d.keyId },
    fraudInformation: { remoteIp: '203.0.113.7' },
    order: {
      _id: id,
      description: {
        totalAmount: '14990', currency: 'TRY',
        billingAddress: { firstName: 'Ayşe', lastName: 'Yılmaz', email: 'ayse@example.com' },
        buyerInfo: { buyerLanguage: 'en' },
      },
      returnUrls: { successUrl: ret('success'), errorUrl: ret('error'), cancelUrl: ret('cancel'), pendingUrl: ret('pending') },
    },
    ...over,
  };
}

// closedPort returns a loopback port nobody listens on.
async function closedPort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

test('whoami names the site, the key and the banks', { skip }, async () => {
  useRelay(d);
  const me = await client.whoami();
  assert.equal(me.site, d.site);
  assert.equal(me.keyId, d.keyId);
  assert.ok(Array.isArray(me.egressIps));
  assert.deepEqual(me.banks.map((b) => b.bank).sort(), Object.keys(d.banks).sort());
});

test('connectAccount checks the key with whoami and returns the account', { skip }, async () => {
  useRelay(d);
  const me = await client.whoami();
  for (const bank of Object.keys(d.banks)) {
    const got = await plugin.connectAccount({ credentials: { bank, keyId: '' }, country: 'TR', currency: 'TRY', wixMerchantId: 'm-1' });
    const acct = me.banks.find((b) => b.bank === bank);
    assert.deepEqual(got.credentials, { bank, keyId: d.keyId });
    assert.equal(got.accountId, `${d.site}/${acct.account}`);
    assert.match(got.accountName, new RegExp(bank));
    assert.equal(got.reasonCode, undefined);
  }
  const missing = ['halkbank', 'qnb', 'vakifbank'].find((b) => !d.banks[b]);
  if (missing) {
    const got = await plugin.connectAccount({ credentials: { bank: missing }, wixMerchantId: 'm-1' });
    assert.equal(got.reasonCode, 2007);
    assert.equal(got.errorCode, 'bank_not_configured');
  }
  const mismatch = await plugin.connectAccount({ credentials: { bank: 'halkbank', keyId: 'key_other' }, wixMerchantId: 'm-1' });
  assert.equal(mismatch.reasonCode, 2002);
  assert.equal(mismatch.errorCode, 'key_mismatch');
});

test('connectAccount with a bad secret or an unknown key gets a 2000-range code', { skip }, async () => {
  useRelay(d, { posrelay_secret: d.secret.slice(0, -2) + 'xx' });
  const bad = await plugin.connectAccount({ credentials: { bank: 'halkbank' }, wixMerchantId: 'm-1' });
  assert.equal(bad.reasonCode, 2004);
  assert.equal(bad.errorCode, 'bad_signature');
  assert.match(bad.errorMessage, /req_[a-z2-7]+/, 'the relay request id is there for the operator');
  useRelay(d, { posrelay_key_id: 'key_0000000000000000' });
  const unknown = await plugin.connectAccount({ credentials: { bank: 'halkbank' }, wixMerchantId: 'm-1' });
  assert.equal(unknown.reasonCode, 2002);
  assert.equal(unknown.errorCode, 'unknown_key');
});

test('a refused request throws RelayError with status, code, field and requestId', { skip }, async () => {
  useRelay(d, { posrelay_secret: 'wrong' });
  await assert.rejects(client.whoami(), (err) => err instanceof client.RelayError && err.status === 401 && err.code === 'bad_signature');
  useRelay(d);
  const req = { bank: 'halkbank', orderId: 'o-1', amount: 14990, currency: 'TRY', returnUrls: { success: `${d.shop}/r`, error: `${d.shop}/r` } };
  await assert.rejects(client.createPayment({ ...req, amount: 0 }), (err) => {
    assert.ok(err instanceof client.RelayError);
    assert.equal(err.status, 422);
    assert.equal(err.code, 'invalid_amount');
    assert.equal(err.field, 'amount');
    assert.match(err.requestId, /^req_/);
    return true;
  });
  await assert.rejects(client.getPayment('pay_doesnotexist0000000000'), (err) => err.status === 404 && err.code === 'payment_not_found');
});

test('createTransaction sends the order to the relay and returns its page', { skip }, async () => {
  useRelay(d);
  const o = txn();
  const got = await plugin.createTransaction(o);
  assert.equal(got.reasonCode, undefined, JSON.stringify(got));
  assert.match(got.pluginTransactionId, /^pay_/);
  assert.ok(got.redirectUrl.startsWith(`${d.relay}/pay/`), got.redirectUrl);
  const p = await client.getPayment(got.pluginTransactionId);
  assert.equal(p.amount, 14990);
  assert.equal(p.currency, 'TRY');
  assert.equal(p.orderId, o.order._id);
  assert.equal(p.wixTransactionId, o.wixTransactionId);
  assert.equal(p.bank, 'halkbank');
  assert.equal(p.type, 'sale');
  assert.equal(p.status, 'pending');
  // The query is part of what is signed.
  try {
    await client.getPayment(got.pluginTransactionId, true);
  } catch (err) {
    assert.ok(err instanceof client.RelayError && err.status !== 401, `refresh refused: ${err.message}`);
  }

  // Wix retries with the same wixTransactionId: the same payment.
  const again = await plugin.createTransaction(o);
  assert.deepEqual(again, got);
  // The same wixTransactionId for another amount is refused.
  const changed = await plugin.createTransaction({ ...o, order: { ...o.order, description: { ...o.order.description, totalAmount: '100' } } });
  assert.equal(changed.reasonCode, 1006);
  assert.equal(changed.errorCode, 'idempotency_key_reused');
});

test('createTransaction maps relay refusals to reason codes', { skip }, async () => {
  useRelay(d);
  const elsewhere = txn();
  elsewhere.order.returnUrls.successUrl = 'https://evil.example/ok';
  const r1 = await plugin.createTransaction(elsewhere);
  assert.equal(r1.reasonCode, 1009);
  assert.equal(r1.errorCode, 'invalid_returnUrls.success');
  assert.match(r1.errorMessage, /return origins/);

  const missing = ['qnb', 'vakifbank', 'garanti'].find((b) => !d.banks[b]);
  const r2 = await plugin.createTransaction(txn({ merchantCredentials: { bank: missing } }));
  assert.equal(r2.reasonCode, 1012);
  assert.equal(r2.errorCode, 'invalid_bank');

  const usd = txn();
  usd.order.description.currency = 'USD';
  const r3 = await plugin.createTransaction(usd);
  assert.ok(r3.reasonCode === undefined || r3.reasonCode === 3003, JSON.stringify(r3));

  const r4 = await plugin.createTransaction(txn({ fraudInformation: { remoteIp: 'not an ip' } }));
  assert.equal(r4.reasonCode, undefined, 'a bad buyer IP is left out, not a failed payment');

  useRelay(d, { posrelay_secret: 'wrong' });
  const r5 = await plugin.createTransaction(txn());
  assert.equal(r5.reasonCode, 1002);
  assert.equal(r5.errorCode, 'bad_signature');
});

test('relay unreachable: reason codes, not crashes', { skip }, async () => {
  const port = await closedPort();
  useRelay(d, { posrelay_url: `http://127.0.0.1:${port}` });
  await assert.rejects(client.whoami(), (err) => err instanceof client.RelayUnreachableError && !err.timeout);
  const c = await plugin.connectAccount({ credentials: { bank: 'halkbank' }, wixMerchantId: 'm-1' });
  assert.equal(c.reasonCode, 2005);
  assert.equal(c.errorCode, 'relay_unreachable');
  const t = await plugin.createTransaction(txn());
  assert.equal(t.reasonCode, 1003);
  assert.equal(t.errorCode, 'relay_unreachable');
  const r = await plugin.refundTransaction({ wixTransactionId: 'w', wixRefundId: 'wr', pluginTransactionId: 'pay_x', refundAmount: '100', merchantCredentials: { bank: 'halkbank' } });
  assert.equal(r.reasonCode, 1013);
});

test('a relay that does not answer: timeout well inside Wix\'s 14 s', { skip }, async () => {
  const sockets = [];
  const srv = net.createServer((s) => sockets.push(s)); // accepts, never answers
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const saved = client.options.timeoutMs;
  client.options.timeoutMs = 400;
  try {
    useRelay(d, { posrelay_url: `http://127.0.0.1:${srv.address().port}` });
    const start = Date.now();
    const t = await plugin.createTransaction(txn());
    const took = Date.now() - start;
    assert.equal(t.reasonCode, 1003);
    assert.equal(t.errorCode, 'relay_timeout');
    assert.ok(took >= 350 && took < 3000, `took ${took} ms`);
  } finally {
    client.options.timeoutMs = saved;
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => srv.close(resolve));
  }
  assert.ok(saved <= 10000, 'the default timeout leaves time inside 14 s');
});
