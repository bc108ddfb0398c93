// The kit on its own: request signing and webhook checks against fixed
// vectors, the submitEvent shapes, getConfig, and every failure path that
// needs no relay. Runs without Go: node --test wix/test/
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import {
  client, plugin, pluginConfig, httpFunctions, secretsStub, paymentsStub, dataStub, fetchStub,
} from '../testing/kit.mjs';
import { wixRequest } from '../testing/site.mjs';

const WHSEC = 'whsec_' + crypto.randomBytes(32).toString('base64');

function sign(whsec, id, ts, body) {
  const key = Buffer.from(whsec.slice(6), 'base64');
  return 'v1,' + crypto.createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
}

function delivery(body, { id = 'msg_' + crypto.randomBytes(8).toString('hex'), ts = Math.floor(Date.now() / 1000), sig } = {}) {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  return wixRequest({
    headers: { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sig || sign(WHSEC, id, ts, raw), 'content-type': 'application/json' },
    raw,
  });
}

function reset() {
  secretsStub.store.clear();
  secretsStub.store.set('posrelay_webhook_secret', WHSEC);
  paymentsStub.submitted.length = 0;
  paymentsStub.control.failNext = 0;
  dataStub.collections.clear();
  dataStub.control.missing.clear();
  dataStub.control.failInsert = null;
}

test('scheme v1 signatures match the relay signer (Go) vectors', () => {
  const common = { keyId: 'key_0123456789abcdef', secret: 's3cr3t-ünïcode', timestamp: 1700000000, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' };
  const post = client.signRequest({ ...common, method: 'post', target: '/v1/payments?dryRun=1', body: '{"amount":14990,"name":"Şule"}' });
  assert.equal(post['X-PosRelay-Signature'], 'v1=+c6XYRTF1HOxboDdZ9RPvFcMB9Z+qg3TVc82/Lrxtm4=');
  assert.equal(post['X-PosRelay-Key'], 'key_0123456789abcdef');
  assert.equal(post['X-PosRelay-Timestamp'], '1700000000');
  assert.equal(post['X-PosRelay-Nonce'], 'AAAAAAAAAAAAAAAAAAAAAA');
  const get = client.signRequest({ ...common, method: 'GET', target: '/v1/whoami', body: '' });
  assert.equal(get['X-PosRelay-Signature'], 'v1=2JsCzsHnnNYk6gdc5iPK2PQ6bvZZpRZzcXnkig7nLAc=');
});

test('nonces are 22 characters of base64url from 16 random bytes, never repeated', () => {
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    const n = client.newNonce();
    assert.match(n, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(Buffer.from(n, 'base64url').length, 16);
    seen.add(n);
  }
  assert.equal(seen.size, 200);
});

test('webhook signature check: Standard Webhooks vector, tolerance, several entries', () => {
  const v = (sigHeader, now = 1614265330, body = '{"test": 2432232314}') => client.verifyWebhookSignature(
    'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', '1614265330', sigHeader, body, now, 300);
  const good = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
  v(good);
  v(`v2,AAAA v1,${'A'.repeat(43)}= ${good}`); // any matching v1 entry
  v(good, 1614265330 + 300);
  const code = (fn) => { try { fn(); return 'none'; } catch (err) { return err.code; } };
  assert.equal(code(() => v(good, 1614265330 + 301)), 'stale_timestamp');
  assert.equal(code(() => v(good, 1614265330 - 301)), 'stale_timestamp');
  assert.equal(code(() => v(good, 1614265330, '{"test": 2432232315}')), 'bad_signature');
  assert.equal(code(() => v('v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=')), 'bad_signature');
  assert.equal(code(() => v('v1,g0hM9SsE')), 'bad_signature');
  assert.equal(code(() => v('')), 'missing_header');
});

test('submitEvent shapes for every relay event', () => {
  const base = { paymentId: 'pay_1', pluginTransactionId: 'pay_1', wixTransactionId: 'wix_1', amount: 14990, currency: 'TRY' };
  assert.deepEqual(client.submitEventFor({ type: 'payment.succeeded', data: { ...base, status: 'succeeded' } }),
    { event: { transaction: { wixTransactionId: 'wix_1', pluginTransactionId: 'pay_1' } } });
  assert.deepEqual(client.submitEventFor({ type: 'payment.failed', data: { ...base, reasonCode: 3012, errorCode: 'insufficient_funds', errorMessage: 'x (bank code 51)' } }),
    { event: { transaction: { wixTransactionId: 'wix_1', pluginTransactionId: 'pay_1', reasonCode: 3012, errorCode: 'insufficient_funds', errorMessage: 'x (bank code 51)' } } });
  assert.equal(client.submitEventFor({ type: 'payment.canceled', data: { ...base, reasonCode: 3030, errorCode: 'canceled' } }).event.transaction.reasonCode, 3030);
  assert.equal(client.submitEventFor({ type: 'payment.expired', data: { ...base } }).event.transaction.reasonCode, 3035);
  assert.deepEqual(client.submitEventFor({ type: 'refund.succeeded', data: { ...base, refundId: 'op_1', pluginRefundId: 'op_1', wixRefundId: 'wr_1', refundAmount: 5000 } }),
    { event: { refund: { wixTransactionId: 'wix_1', pluginRefundId: 'op_1', wixRefundId: 'wr_1', amount: '5000' } } });
  assert.deepEqual(client.submitEventFor({ type: 'refund.failed', data: { ...base, refundId: 'op_2', wixRefundId: 'wr_2', refundAmount: 100, reasonCode: 3022, errorCode: 'refund_not_allowed', errorMessage: 'no' } }),
    { event: { refund: { wixTransactionId: 'wix_1', pluginRefundId: 'op_2', wixRefundId: 'wr_2', amount: '100', reasonCode: 3022, errorCode: 'refund_not_allowed', errorMessage: 'no' } } });
  // Answered by refundTransaction already (it voids instead): not repeated.
  assert.equal(client.submitEventFor({ type: 'refund.failed', data: { ...base, refundId: 'op_3', wixRefundId: 'wr_3', refundAmount: 14990, reasonCode: 3022, errorCode: 'refund_before_settlement' } }), null);
  // A void given back in full, told to Wix as a PSP-initiated refund.
  assert.deepEqual(client.submitEventFor({ type: 'payment.voided', data: { ...base, status: 'voided' } }),
    { event: { refund: { wixTransactionId: 'wix_1', pluginRefundId: 'pay_1-void', amount: '14990' } } });
  // The same void standing for a Wix refund names it; its failure is that
  // refund's failure. A failed void Wix never asked for is not told.
  assert.deepEqual(client.submitEventFor({ type: 'payment.voided', data: { ...base, status: 'voided', refundId: 'op_4', wixRefundId: 'wr_4' } }),
    { event: { refund: { wixTransactionId: 'wix_1', pluginRefundId: 'pay_1-void', wixRefundId: 'wr_4', amount: '14990' } } });
  assert.deepEqual(client.submitEventFor({ type: 'payment.void_failed', data: { ...base, refundId: 'op_5', wixRefundId: 'wr_5', reasonCode: 3022, errorCode: 'void_after_settlement', errorMessage: 'refund instead' } }),
    { event: { refund: { wixTransactionId: 'wix_1', pluginRefundId: 'pay_1-void', wixRefundId: 'wr_5', amount: '14990', reasonCode: 3022, errorCode: 'void_after_settlement', errorMessage: 'refund instead' } } });
  assert.equal(client.submitEventFor({ type: 'payment.void_failed', data: { ...base, refundId: 'op_6', errorCode: 'void_after_settlement' } }), null);
  // Nothing for payments that did not come from Wix, or unknown types.
  assert.equal(client.submitEventFor({ type: 'payment.succeeded', data: { paymentId: 'pay_2' } }), null);
  assert.equal(client.submitEventFor({ type: 'payment.refreshed', data: base }), null);
});

test('getConfig offers one hosted page and no secret fields', () => {
  const cfg = pluginConfig.getConfig();
  assert.equal(typeof cfg.title, 'string');
  assert.equal(cfg.paymentMethods.length, 1);
  assert.ok(cfg.paymentMethods[0].hostedPage.title);
  const names = cfg.credentialsFields.map((f) => (f.simpleField || f.dropdownField || f.checkboxField).name);
  assert.deepEqual(names, ['bank', 'keyId']);
  assert.deepEqual(cfg.credentialsFields[0].dropdownField.options.map((o) => o.key), ['halkbank', 'qnb', 'vakifbank']);
  for (const n of names) assert.doesNotMatch(n, /secret|password|url/i, 'no field asks for a secret or the relay URL');
});

test('missing secrets give reason codes, not crashes', async () => {
  reset();
  secretsStub.store.clear();
  const c = await plugin.connectAccount({ credentials: { bank: 'halkbank' }, wixMerchantId: 'm' });
  assert.equal(c.reasonCode, 2002);
  assert.equal(c.errorCode, 'not_configured');
  assert.match(c.errorMessage, /posrelay_url|posrelay_key_id|posrelay_secret/);
  const t = await plugin.createTransaction(order());
  assert.equal(t.reasonCode, 1002);
  assert.equal(t.errorCode, 'not_configured');
  const r = await plugin.refundTransaction({ wixTransactionId: 'w', wixRefundId: 'r', pluginTransactionId: 'pay_x', refundAmount: '100' });
  assert.equal(r.reasonCode, 1002);
  const res = await httpFunctions.post_posrelay(delivery({ type: 'payment.succeeded', data: { paymentId: 'p' } }));
  assert.equal(res.status, 500, 'no webhook secret: the relay retries later');
  assert.equal(paymentsStub.submitted.length, 0);
});

function order(over = {}) {
  return {
    wixTransactionId: 'wix-offline-1',
    merchantCredentials: { bank: 'halkbank' },
    order: { _id: 'order-1', description: { totalAmount: '14990', currency: 'TRY' }, returnUrls: { successUrl: 'https://s/ok', errorUrl: 'https://s/err' } },
    ...over,
  };
}

test('createTransaction checks amount and currency before calling the relay', async () => {
  reset();
  const before = fetchStub.requests.length;
  const cases = [
    [{ totalAmount: '149.90', currency: 'TRY' }, 3001],
    [{ totalAmount: '-5', currency: 'TRY' }, 3001],
    [{ totalAmount: '0', currency: 'TRY' }, 3001],
    [{ totalAmount: '', currency: 'TRY' }, 3001],
    [{ totalAmount: '14990', currency: 'JPY' }, 3003],
    [{ totalAmount: '14990' }, 3003],
  ];
  for (const [description, code] of cases) {
    const got = await plugin.createTransaction(order({ order: { _id: 'o', description, returnUrls: {} } }));
    assert.equal(got.reasonCode, code, JSON.stringify(description));
    assert.ok(got.errorCode && got.errorMessage);
    assert.equal(got.redirectUrl, undefined);
  }
  assert.equal(fetchStub.requests.length, before, 'no relay call for a request that cannot succeed');
});

test('connectAccount refuses an unknown bank without calling the relay', async () => {
  reset();
  const got = await plugin.connectAccount({ credentials: { bank: 'garanti' }, wixMerchantId: 'm' });
  assert.equal(got.reasonCode, 2002);
  assert.equal(got.errorCode, 'invalid_bank');
  const cur = await plugin.connectAccount({ credentials: { bank: 'qnb' }, currency: 'JPY', wixMerchantId: 'm' });
  assert.equal(cur.reasonCode, 2009);
});

test('webhook receiver: forged, stale, replayed and malformed deliveries', async () => {
  reset();
  const ev = { type: 'payment.succeeded', data: { paymentId: 'pay_9', pluginTransactionId: 'pay_9', wixTransactionId: 'wix_9' } };
  const now = Math.floor(Date.now() / 1000);
  const forged = await httpFunctions.post_posrelay(delivery(ev, { sig: sign('whsec_' + crypto.randomBytes(32).toString('base64'), 'msg_f', now, JSON.stringify(ev)), id: 'msg_f' }));
  assert.equal(forged.status, 403);
  const old = await httpFunctions.post_posrelay(delivery(ev, { ts: now - 301 }));
  assert.equal(old.status, 403);
  const future = await httpFunctions.post_posrelay(delivery(ev, { ts: now + 301 }));
  assert.equal(future.status, 403);
  const noSig = wixRequest({ headers: { 'webhook-id': 'msg_n', 'webhook-timestamp': String(now) }, raw: JSON.stringify(ev) });
  assert.equal((await httpFunctions.post_posrelay(noSig)).status, 403);
  const notJSON = await httpFunctions.post_posrelay(delivery('not json'));
  assert.equal(notJSON.status, 400);
  assert.equal(paymentsStub.submitted.length, 0, 'nothing refused reaches submitEvent');

  // Header names in any case (Wix's casing is not documented).
  const d = delivery(ev, { id: 'msg_ok' });
  d.headers = Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k.replace(/(^|-)w/g, (m) => m.toUpperCase()), v]));
  assert.equal((await httpFunctions.post_posrelay(d)).status, 200);
  assert.equal((await httpFunctions.post_posrelay(delivery(ev, { id: 'msg_ok' }))).body.duplicate, true);
  assert.equal(paymentsStub.submitted.length, 1);
});

test('webhook receiver: a failed submitEvent is answered 500 and counts on the retry', async () => {
  reset();
  const ev = { type: 'payment.failed', data: { paymentId: 'pay_8', pluginTransactionId: 'pay_8', wixTransactionId: 'wix_8', reasonCode: 3012 } };
  paymentsStub.control.failNext = 1;
  assert.equal((await httpFunctions.post_posrelay(delivery(ev, { id: 'msg_r' }))).status, 500);
  assert.equal(paymentsStub.submitted.length, 0);
  assert.equal((await httpFunctions.post_posrelay(delivery(ev, { id: 'msg_r' }))).status, 200);
  assert.equal(paymentsStub.submitted.length, 1);
});

test('webhook receiver: without the PosRelayWebhooks collection it still tells Wix', async () => {
  reset();
  dataStub.control.missing.add('PosRelayWebhooks');
  const ev = { type: 'payment.succeeded', data: { paymentId: 'pay_7', pluginTransactionId: 'pay_7', wixTransactionId: 'wix_7' } };
  assert.equal((await httpFunctions.post_posrelay(delivery(ev))).status, 200);
  assert.deepEqual(paymentsStub.submitted, [{ event: { transaction: { wixTransactionId: 'wix_7', pluginTransactionId: 'pay_7' } } }]);
});
