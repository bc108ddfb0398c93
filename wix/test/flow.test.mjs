// Whole payments through the kit, a real relay and the bank simulators:
// createTransaction → the shopper's pages (relay, bank card page, 3-D
// challenge, callback) → back to the site's return URL → the relay's
// webhook reaches post_posrelay on a loopback port → submitEvent. Then
// duplicates, forgeries, redelivery, refunds, void and capture.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { client, plugin, httpFunctions, paymentsStub, dataStub, demo, useRelay, NO_RELAY } from '../testing/kit.mjs';
import { startSite, wixRequest, eventually } from '../testing/site.mjs';
import { walk, testCard } from '../testing/shopper.mjs';

const d = demo();
const skip = d ? false : NO_RELAY;
const APPROVED = '4355084355084358';
const INSUFFICIENT = '4000000000000515';

let site;
before(async () => {
  if (!d) return;
  useRelay(d);
  site = await startSite(httpFunctions, Number(process.env.POSRELAY_WEBHOOK_PORT || 0));
});
after(async () => {
  if (site) await site.close();
});

function txn(bank, amount = 14990) {
  const id = crypto.randomUUID();
  const ret = (r) => `${d.shop}/return?order=${id}&result=${r}`;
  return {
    wixTransactionId: crypto.randomUUID(),
    paymentMethod: 'posrelay',
    merchantCredentials: { bank },
    wixMerchantId: 'm-1',
    fraudInformation: { remoteIp: '203.0.113.7' },
    order: {
      _id: id,
      description: {
        totalAmount: String(amount), currency: 'TRY',
        billingAddress: { firstName: 'Test', lastName: 'Shopper', email: 'shopper@example.com' },
        buyerInfo: { buyerLanguage: 'tr' },
      },
      returnUrls: { successUrl: ret('success'), errorUrl: ret('error'), cancelUrl: ret('cancel'), pendingUrl: ret('pending') },
    },
  };
}

function eventsFor(wixTransactionId) {
  return paymentsStub.submitted.filter((s) => (s.event.transaction || s.event.refund).wixTransactionId === wixTransactionId);
}

function deliveriesFor(paymentId) {
  return site.deliveries.filter((x) => {
    try { return JSON.parse(x.raw).data.paymentId === paymentId; } catch { return false; }
  });
}

// pay runs one payment through the kit and the shopper's pages.
async function pay(bank, pan, amount) {
  const o = txn(bank, amount);
  const created = await plugin.createTransaction(o);
  assert.equal(created.reasonCode, undefined, `createTransaction: ${JSON.stringify(created)}`);
  const { landed, history } = await walk(created.redirectUrl, testCard(pan), d.shop);
  return { o, created, landed, history };
}

const paid = {}; // bank → an approved payment, for the later tests

const banks = d ? Object.keys(d.banks).sort((a, b) => (a === 'halkbank' ? -1 : b === 'halkbank' ? 1 : a.localeCompare(b))) : ['halkbank'];

for (const bank of banks) {
  test(`${bank}: an approved card — submitEvent without a reasonCode`, { skip }, async () => {
    const { o, created, landed, history } = await pay(bank, APPROVED);
    assert.match(landed, /result=success/, history.join('\n'));
    const got = await eventually('the approval to reach submitEvent', () => eventsFor(o.wixTransactionId)[0]);
    assert.deepEqual(got, { event: { transaction: { wixTransactionId: o.wixTransactionId, pluginTransactionId: created.pluginTransactionId } } });
    assert.ok(!('reasonCode' in got.event.transaction));
    const [delivery] = deliveriesFor(created.pluginTransactionId);
    assert.equal(delivery.answer.status, 200);
    assert.equal(JSON.parse(delivery.raw).type, 'payment.succeeded');
    paid[bank] = { o, created, delivery };
  });

  test(`${bank}: insufficient funds — submitEvent with reasonCode 3012`, { skip }, async () => {
    const { o, created, landed, history } = await pay(bank, INSUFFICIENT);
    assert.match(landed, /result=error/, history.join('\n'));
    const got = await eventually('the decline to reach submitEvent', () => eventsFor(o.wixTransactionId)[0]);
    const [delivery] = deliveriesFor(created.pluginTransactionId);
    const data = JSON.parse(delivery.raw).data;
    assert.equal(JSON.parse(delivery.raw).type, 'payment.failed');
    assert.equal(data.errorCode, 'insufficient_funds');
    assert.deepEqual(got, { event: { transaction: {
      wixTransactionId: o.wixTransactionId, pluginTransactionId: created.pluginTransactionId,
      reasonCode: 3012, errorCode: 'insufficient_funds', errorMessage: data.errorMessage,
    } } });
    assert.ok(data.errorMessage, 'the relay explains the decline');
  });
}

test('a webhook delivered twice (same webhook-id) reaches submitEvent once', { skip }, async () => {
  const { o, delivery } = paid.halkbank;
  // In process, exactly as received…
  const again = await httpFunctions.post_posrelay(wixRequest({ headers: delivery.headers, raw: delivery.raw }));
  assert.equal(again.status, 200);
  assert.equal(again.body.duplicate, true);
  // …and over HTTP.
  const res = await fetch(site.url, { method: 'POST', headers: delivery.headers, body: delivery.raw });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).duplicate, true);
  assert.equal(eventsFor(o.wixTransactionId).length, 1);
  assert.ok(dataStub.collections.get('PosRelayWebhooks').has(delivery.headers['webhook-id']));
});

test('forged webhooks are refused and never reach submitEvent', { skip }, async () => {
  const { delivery } = paid.halkbank;
  const before = paymentsStub.submitted.length;
  const ev = JSON.parse(delivery.raw);
  ev.data.wixTransactionId = crypto.randomUUID();
  const raw = JSON.stringify(ev);
  const id = 'msg_forged' + crypto.randomBytes(6).toString('hex');
  const now = Math.floor(Date.now() / 1000);
  const key = Buffer.from(d.webhookSecret.slice('whsec_'.length), 'base64');
  const sign = (k, ts, body) => 'v1,' + crypto.createHmac('sha256', k).update(`${id}.${ts}.${body}`).digest('base64');
  const post = (headers, body) => fetch(site.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  const wrongKey = await post({ 'webhook-id': id, 'webhook-timestamp': String(now), 'webhook-signature': sign(crypto.randomBytes(32), now, raw) }, raw);
  assert.equal(wrongKey.status, 403);
  const tampered = await post({ ...pick(delivery.headers), 'webhook-signature': delivery.headers['webhook-signature'] }, raw);
  assert.equal(tampered.status, 403);
  const old = await post({ 'webhook-id': id, 'webhook-timestamp': String(now - 600), 'webhook-signature': sign(key, now - 600, raw) }, raw);
  assert.equal(old.status, 403);
  const unsigned = await post({ 'webhook-id': id, 'webhook-timestamp': String(now) }, raw);
  assert.equal(unsigned.status, 403);
  assert.equal(paymentsStub.submitted.length, before);
  // The refused id was not recorded, so a genuine delivery with it would count.
  assert.ok(!dataStub.collections.get('PosRelayWebhooks').has(id));
});

function pick(h) {
  return { 'webhook-id': h['webhook-id'], 'webhook-timestamp': h['webhook-timestamp'] };
}

test('when submitEvent fails the relay delivers again and the retry counts', { skip }, async () => {
  paymentsStub.control.failNext = 1;
  const { o, created } = await pay('halkbank', APPROVED);
  // The relay's first retry comes 5 s after the failed attempt.
  const got = await eventually('the redelivery to reach submitEvent', () => eventsFor(o.wixTransactionId)[0], 20000);
  assert.deepEqual(got, { event: { transaction: { wixTransactionId: o.wixTransactionId, pluginTransactionId: created.pluginTransactionId } } });
  const ds = deliveriesFor(created.pluginTransactionId);
  assert.equal(ds.length, 2);
  assert.deepEqual(ds.map((x) => x.answer.status), [500, 200]);
  assert.equal(ds[0].headers['webhook-id'], ds[1].headers['webhook-id']);
  assert.equal(paymentsStub.control.failNext, 0);
});

// ---- Refunds, void, capture: the relay's endpoints for them ----

test('refundTransaction: a full refund on the day of the sale is a void, idempotent on wixRefundId', { skip }, async (t) => {
  const { o, created } = await pay('halkbank', APPROVED, 20000);
  await eventually('the approval', () => eventsFor(o.wixTransactionId)[0]);
  const req = {
    wixTransactionId: o.wixTransactionId, wixRefundId: crypto.randomUUID(), pluginTransactionId: created.pluginTransactionId,
    merchantCredentials: o.merchantCredentials, refundAmount: '20000', reason: 'REQUESTED_BY_CUSTOMER',
  };
  const got = await plugin.refundTransaction(req);
  t.diagnostic(`posrelay-test: refundTransaction (same day, full) answered ${JSON.stringify(got)}`);
  assert.deepEqual(got, { pluginRefundId: `${created.pluginTransactionId}-void` });
  const again = await plugin.refundTransaction(req);
  assert.deepEqual(again, got, 'the same wixRefundId gets the same answer');

  const p = await client.getPayment(created.pluginTransactionId);
  assert.equal(p.status, 'voided');
  assert.deepEqual(p.operations.map((x) => `${x.kind}:${x.status}`).sort(), ['refund:failed', 'void:succeeded']);
  assert.equal(p.operations.find((x) => x.kind === 'refund').wixRefundId, req.wixRefundId);

  // Wix hears of it once, as its own refund (same wixRefundId and
  // pluginRefundId); the relay's refund.failed (refund_before_settlement)
  // is not passed on.
  assert.equal(p.operations.find((x) => x.kind === 'void').wixRefundId, req.wixRefundId);
  const ev = await eventually('the void to reach submitEvent', () => eventsFor(o.wixTransactionId).find((e) => e.event.refund));
  assert.deepEqual(ev, { event: { refund: { wixTransactionId: o.wixTransactionId, pluginRefundId: got.pluginRefundId, wixRefundId: req.wixRefundId, amount: '20000' } } });
  await eventually('both webhooks to be delivered', () => deliveriesFor(created.pluginTransactionId).length >= 3);
  const types = deliveriesFor(created.pluginTransactionId).map((x) => JSON.parse(x.raw).type).sort();
  assert.deepEqual(types, ['payment.succeeded', 'payment.voided', 'refund.failed']);
  assert.equal(eventsFor(o.wixTransactionId).length, 2, 'the approval and the refund');

  // Nothing is left to refund.
  const more = await plugin.refundTransaction({ ...req, wixRefundId: crypto.randomUUID(), refundAmount: '100' });
  assert.equal(more.reasonCode, 3023, JSON.stringify(more));
  assert.equal(more.errorCode, 'already_voided');
  const none = await plugin.refundTransaction({ ...req, wixRefundId: crypto.randomUUID(), pluginTransactionId: 'pay_00000000000000000000000000' });
  assert.equal(none.reasonCode, 6000);
  assert.equal(none.errorCode, 'payment_not_found');
});

test('refundTransaction: part of a payment on the day of the sale waits for tomorrow', { skip }, async (t) => {
  const { o, created } = await pay('halkbank', APPROVED, 30000);
  await eventually('the approval', () => eventsFor(o.wixTransactionId)[0]);
  const req = {
    wixTransactionId: o.wixTransactionId, wixRefundId: crypto.randomUUID(), pluginTransactionId: created.pluginTransactionId,
    merchantCredentials: o.merchantCredentials, refundAmount: '10000',
  };
  const got = await plugin.refundTransaction(req);
  assert.equal(got.reasonCode, 3024, JSON.stringify(got));
  assert.equal(got.errorCode, 'partial_refund_before_settlement');
  assert.match(got.pluginRefundId, /^op_/);
  const tooMuch = await plugin.refundTransaction({ ...req, wixRefundId: crypto.randomUUID(), refundAmount: '999999' });
  assert.equal(tooMuch.reasonCode, 3025, JSON.stringify(tooMuch));
  assert.equal(tooMuch.errorCode, 'refund_exceeds_captured');
  const p = await client.getPayment(created.pluginTransactionId);
  assert.equal(p.status, 'succeeded');
  assert.equal(p.refunded, 0);
  // The relay's refund.failed is not passed on: Wix had its answer.
  await eventually('the refund.failed webhook', () => deliveriesFor(created.pluginTransactionId).some((x) => JSON.parse(x.raw).type === 'refund.failed'));
  assert.equal(eventsFor(o.wixTransactionId).length, 1);
});

test('void: a same-day cancel reaches Wix as a refund of the whole amount', { skip }, async (t) => {
  const { o, created } = await pay('halkbank', APPROVED, 12345);
  await eventually('the approval', () => eventsFor(o.wixTransactionId)[0]);
  const op = await client.void(created.pluginTransactionId, crypto.randomUUID());
  assert.equal(op.kind, 'void');
  assert.equal(op.paymentId, created.pluginTransactionId);
  if (op.status !== 'succeeded') assert.fail(`void: ${JSON.stringify(op)}`);
  const ev = await eventually('the void event', () => eventsFor(o.wixTransactionId).find((e) => e.event.refund));
  assert.equal(ev.event.refund.amount, '12345');
  assert.equal(ev.event.refund.wixTransactionId, o.wixTransactionId);
  assert.ok(ev.event.refund.pluginRefundId);
  assert.equal(ev.event.refund.reasonCode, undefined);
});

test('capture: a pre-authorisation completed through the client', { skip }, async (t) => {
  const id = crypto.randomUUID();
  const p = await client.createPayment({
    bank: 'halkbank', orderId: id, amount: 5000, currency: 'TRY', type: 'preauth', wixTransactionId: crypto.randomUUID(),
    returnUrls: { success: `${d.shop}/return?order=${id}&result=success`, error: `${d.shop}/return?order=${id}&result=error` },
  }, id);
  const { landed } = await walk(p.redirectUrl, testCard(APPROVED), d.shop);
  assert.match(landed, /result=success/);
  const op = await client.capture(p.id, { amount: 4000 }, crypto.randomUUID());
  assert.equal(op.kind, 'capture');
  assert.equal(op.status, 'succeeded', JSON.stringify(op));
  const after = await client.getPayment(p.id);
  assert.equal(after.captured, 4000);
});
