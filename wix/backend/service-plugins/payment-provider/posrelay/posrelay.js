// posrelay payment provider: Wix calls these when a merchant connects the
// account, a shopper pays, and a merchant refunds. Paste into the .js file
// Wix created for the payment service plugin named "posrelay".
//
// None of these functions throws: every failure becomes a Wix reason code
// with errorCode/errorMessage, so the checkout and the dashboard show a
// message instead of a "technical issue" page.

import {
  whoami, createPayment, refund, voidPayment, getPayment, voidRefundId, RelayError, RelayUnreachableError, ConfigError,
} from 'backend/posrelay';

const BANKS = ['halkbank', 'qnb', 'vakifbank'];
const CURRENCIES = ['TRY', 'USD', 'EUR', 'GBP'];
// Wix gives a backend call about 14 s; stay well inside it.
const REFUND_BUDGET_MS = 12500;

function message(err) {
  if (err instanceof RelayError) {
    return `${err.relayMessage || err.code}${err.requestId ? ` (posrelay request ${err.requestId})` : ''}`;
  }
  return String((err && err.message) || err).slice(0, 300);
}

function fail(reasonCode, errorCode, errorMessage) {
  return { reasonCode, errorCode, errorMessage: String(errorMessage || errorCode).slice(0, 500) };
}

// ---- connectAccount ----

const AUTH_CODES = ['bad_signature', 'stale_timestamp', 'replayed_nonce', 'missing_header', 'malformed_header'];

export const connectAccount = async (options, context) => {
  try {
    const creds = (options && options.credentials) || {};
    const bank = String(creds.bank || '').trim().toLowerCase();
    if (!BANKS.includes(bank)) {
      return fail(2002, 'invalid_bank', `Choose the bank: one of ${BANKS.join(', ')}.`);
    }
    const currency = options && options.currency ? String(options.currency).toUpperCase() : '';
    if (currency && !CURRENCIES.includes(currency)) {
      return fail(2009, 'currency_not_supported', `The site's currency ${currency} is not offered; posrelay takes ${CURRENCIES.join(', ')}.`);
    }
    const me = await whoami();
    const wantKey = String(creds.keyId || '').trim();
    if (wantKey && wantKey !== me.keyId) {
      return fail(2002, 'key_mismatch', `The posrelay_key_id secret is ${me.keyId}, not ${wantKey}; fix the secret or clear the field.`);
    }
    const acct = (me.banks || []).find((b) => b.account === bank) || (me.banks || []).find((b) => b.bank === bank);
    if (!acct) {
      const have = (me.banks || []).map((b) => b.account || b.bank).join(', ') || 'none';
      return fail(2007, 'bank_not_configured', `The relay has no ${bank} account for site ${me.site} (it has: ${have}); ask the relay operator.`);
    }
    const env = acct.environment && acct.environment !== 'prod' ? ` (${acct.environment})` : '';
    return {
      credentials: { bank, keyId: me.keyId },
      accountId: `${me.site}/${acct.account || acct.bank}`,
      accountName: `posrelay ${me.site} · ${acct.bank}${env}`,
    };
  } catch (err) {
    console.warn(`posrelay connectAccount: ${message(err)}`);
    if (err instanceof ConfigError) return fail(2002, 'not_configured', err.message);
    if (err instanceof RelayUnreachableError) return fail(2005, 'relay_unreachable', err.message);
    if (err instanceof RelayError) {
      if (err.code === 'unknown_key') return fail(2002, err.code, `The relay does not know this key id: ${message(err)}`);
      if (AUTH_CODES.includes(err.code)) return fail(2004, err.code, `The relay refused the key: ${message(err)}`);
      if (err.status === 403) return fail(2001, err.code, message(err));
      return fail(2005, err.code, message(err));
    }
    return fail(2005, 'unexpected_error', message(err));
  }
};

// ---- createTransaction ----

// minor reads Wix's minor-unit amount ("14990" for 149.90) as an integer.
function minor(v) {
  const s = typeof v === 'number' ? String(v) : String(v === undefined || v === null ? '' : v).trim();
  if (!/^[0-9]{1,15}$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

// orderId is what the banks accept: letters, digits, - and _, at most 40.
function orderIdFor(order, wixTransactionId) {
  const ok = (s) => typeof s === 'string' && /^[A-Za-z0-9_-]{1,40}$/.test(s);
  if (ok(order._id)) return order._id;
  const cleaned = String(order._id || wixTransactionId || '').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 40);
  return cleaned || `wix-${Date.now()}`;
}

function customerFor(options) {
  const d = (options.order && options.order.description) || {};
  const bill = d.billingAddress || {};
  const c = {};
  const ip = options.fraudInformation && options.fraudInformation.remoteIp;
  if (typeof ip === 'string' && (/^(\d{1,3}\.){3}\d{1,3}$/.test(ip) || /^[0-9a-fA-F:]{2,39}$/.test(ip) && ip.includes(':'))) {
    c.ip = ip;
  }
  const email = String(bill.email || '').trim();
  if (email && email.length <= 254 && /^[^\s<>"|\\@]+@[^\s<>"|\\@]+$/.test(email)) c.email = email;
  // eslint-disable-next-line no-control-regex
  const name = `${bill.firstName || ''} ${bill.lastName || ''}`.replace(/[<>|\\\u0000-\u001f\u007f]/g, '').replace(/\s+/g, ' ').trim();
  if (name) c.name = Array.from(name).slice(0, 100).join('');
  return c;
}

function languageFor(options) {
  const d = (options.order && options.order.description) || {};
  const lang = String((d.buyerInfo && d.buyerInfo.buyerLanguage) || '').toLowerCase();
  if (!lang) return undefined;
  return lang.startsWith('tr') ? 'tr' : 'en';
}

// Relay refusals of POST /v1/payments and the Wix reason codes for them.
const CREATE_CODES = {
  invalid_amount: 3001,
  invalid_currency: 3003,
  invalid_installments: 3034,
  invalid_bank: 1012,
  invalid_orderId: 1007,
  invalid_json: 1007,
  unknown_field: 1007,
  invalid_idempotency_key: 1007,
  idempotency_key_reused: 1006,
  order_already_paid: 3027,
};

function createFailure(err) {
  if (err instanceof ConfigError) return fail(1002, 'not_configured', err.message);
  if (err instanceof RelayUnreachableError) return fail(1003, err.timeout ? 'relay_timeout' : 'relay_unreachable', err.message);
  if (err instanceof RelayError) {
    if (CREATE_CODES[err.code]) return fail(CREATE_CODES[err.code], err.code, message(err));
    if (err.code.startsWith('invalid_customer')) return fail(1007, err.code, message(err));
    if (err.status === 401 || err.status === 403) return fail(1002, err.code, message(err));
    if (err.status === 429 || err.status >= 500) return fail(1003, err.code, message(err));
    if (err.status >= 400) return fail(1009, err.code, message(err));
  }
  return fail(6000, 'unexpected_error', message(err));
}

export const createTransaction = async (options, context) => {
  try {
    const order = options.order || {};
    const d = order.description || {};
    const amount = minor(d.totalAmount);
    if (amount === null || amount <= 0) {
      return fail(3001, 'invalid_amount', `totalAmount ${JSON.stringify(d.totalAmount)} is not a positive amount in minor units`);
    }
    const currency = String(d.currency || '').toUpperCase();
    if (!CURRENCIES.includes(currency)) {
      return fail(3003, 'invalid_currency', `currency ${currency || '(none)'} is not supported; use ${CURRENCIES.join(', ')}`);
    }
    const r = order.returnUrls || {};
    const returnUrls = { success: r.successUrl, error: r.errorUrl || r.successUrl };
    if (r.cancelUrl) returnUrls.cancel = r.cancelUrl;
    if (r.pendingUrl) returnUrls.pending = r.pendingUrl;
    const req = {
      bank: String((options.merchantCredentials && options.merchantCredentials.bank) || ''),
      orderId: orderIdFor(order, options.wixTransactionId),
      amount,
      currency,
      // No installments: the relay's card page offers them where the bank's
      // model lets the shopper choose.
      type: 'sale',
      returnUrls,
      customer: customerFor(options),
      wixTransactionId: options.wixTransactionId,
    };
    const language = languageFor(options);
    if (language) req.language = language;
    const p = await createPayment(req, options.wixTransactionId);
    if (!p.redirectUrl) {
      // A retry of a payment that has already ended.
      const rc = p.status === 'succeeded' ? 3027 : (p.result && p.result.reasonCode) || 3027;
      return { pluginTransactionId: p.id, ...fail(rc, `payment_${p.status}`, `posrelay payment ${p.id} is already ${p.status}`) };
    }
    return { pluginTransactionId: p.id, redirectUrl: p.redirectUrl };
  } catch (err) {
    console.warn(`posrelay createTransaction ${options && options.wixTransactionId}: ${message(err)}`);
    return createFailure(err);
  }
};

// ---- refundTransaction ----

// Relay refusals of a refund and the Wix reason codes for them (the same
// names as the relay's normalised bank result codes where they exist).
const REFUND_CODES = {
  invalid_amount: 3001,
  refund_exceeds_captured: 3025,
  refund_not_allowed: 3022,
  refund_before_settlement: 3022,
  void_after_settlement: 3022,
  already_voided: 3023,
  already_refunded: 3023,
  refund_in_progress: 3022,
  payment_not_succeeded: 3022,
  not_captured: 3022,
  partial_refund_not_allowed: 3024,
  idempotency_key_reused: 1006,
};

function refundFailure(err) {
  if (err instanceof ConfigError) return fail(1002, 'not_configured', err.message);
  if (err instanceof RelayUnreachableError) return fail(1013, err.timeout ? 'relay_timeout' : 'relay_unreachable', err.message);
  if (err instanceof RelayError) {
    if (REFUND_CODES[err.code]) return fail(REFUND_CODES[err.code], err.code, message(err));
    if (err.status === 401 || err.status === 403) return fail(1002, err.code, message(err));
    if (err.status === 429 || err.status >= 500) return fail(1013, err.code, message(err));
    if (err.status === 404) return fail(6000, err.code, message(err));
    return fail(3022, err.code, message(err));
  }
  return fail(6000, 'unexpected_error', message(err));
}

const PENDING_MESSAGE = 'The bank has not confirmed the refund yet; posrelay will report the result when it does.';

// opAnswer turns a relay operation (refund or void) into
// refundTransaction's answer under the given pluginRefundId.
function opAnswer(op, pluginRefundId) {
  if (op.status === 'succeeded') return { pluginRefundId };
  if (op.status === 'failed') {
    const res = op.result || {};
    const msg = (res.message && res.message.en) || res.bankMessage || `the bank refused the ${op.kind || 'refund'}`;
    return { pluginRefundId, ...fail(Number(res.reasonCode) || 3022, res.code || `${op.kind || 'refund'}_failed`, msg) };
  }
  // pending or unknown: the relay waited ~10 s for the bank already.
  return { pluginRefundId, ...fail(5009, `${op.kind || 'refund'}_${op.status || 'pending'}`, PENDING_MESSAGE) };
}

function remaining(deadline) {
  return deadline - Date.now();
}

// refundTransaction refunds through the relay, idempotent on wixRefundId.
//
// - Answered by the bank: {pluginRefundId} or a 3xxx reason code.
// - Left open by the bank (the relay answers 202 after ~10 s): reasonCode
//   5009 with the pluginRefundId; the relay settles it with the bank's
//   status API and sends refund.succeeded / refund.failed, which
//   post_posrelay hands to submitEvent with the same ids. See README.
// - Same day, before the bank's end of day, the banks take no refund, only
//   a cancel (void) of the whole payment. So a full refund refused with
//   refund_before_settlement is done as a void; its pluginRefundId is
//   `<payment id>-void`, as in the payment.voided webhook.
export const refundTransaction = async (options, context) => {
  const deadline = Date.now() + REFUND_BUDGET_MS;
  const paymentId = options.pluginTransactionId;
  const wixRefundId = options.wixRefundId;
  let amount = 0;
  if (options.refundAmount !== undefined && options.refundAmount !== null && options.refundAmount !== '') {
    amount = minor(options.refundAmount);
    if (amount === null || amount <= 0) {
      return fail(3001, 'invalid_amount', `refundAmount ${JSON.stringify(options.refundAmount)} is not a positive amount in minor units`);
    }
  }
  try {
    const op = await refund(paymentId, { amount, wixRefundId, reason: options.reason }, wixRefundId,
      { timeoutMs: Math.min(11000, remaining(deadline)) });
    const res = op.result || {};
    if (op.status === 'failed' && res.code === 'refund_before_settlement' && remaining(deadline) > 2000) {
      const p = await getPayment(paymentId);
      if (op.amount === p.amount && !p.refunded) {
        const v = await voidPayment(paymentId, wixRefundId, { timeoutMs: remaining(deadline) - 500 }, { wixRefundId });
        return opAnswer(v, voidRefundId(paymentId));
      }
      return { pluginRefundId: op.id, ...fail(3024, 'partial_refund_before_settlement',
        'Until the bank\'s end of day only the whole payment can be given back; refund part of it from tomorrow.') };
    }
    return opAnswer(op, op.id);
  } catch (err) {
    console.warn(`posrelay refundTransaction ${paymentId}/${wixRefundId}: ${message(err)}`);
    if (err instanceof RelayUnreachableError && err.timeout && wixRefundId && remaining(deadline) > 300) {
      // The relay may have taken it: look before saying it failed.
      try {
        const p = await getPayment(paymentId, false, { timeoutMs: remaining(deadline) });
        const op = (p.operations || []).find((o) => o.kind === 'refund' && o.wixRefundId === wixRefundId);
        if (op) return opAnswer(op, op.id);
      } catch (lookupErr) {
        // fall through to the original failure
      }
    }
    return refundFailure(err);
  }
};
