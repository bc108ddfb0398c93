// posrelay client for Wix Velo backends.
//
// Paste this file as backend/posrelay.js (a plain backend file: do NOT
// rename it to .web.js or .jsw, or site visitors could call it). It signs
// every request to the relay with scheme v1, reads the relay's address and
// key from the Secrets Manager, and verifies the relay's webhooks.
//
// Secrets (Dashboard → Developer Tools → Secrets Manager):
//   posrelay_url             https://pay.example.com  (the relay, no path)
//   posrelay_key_id          key_…                    (from the relay operator)
//   posrelay_secret          the key's secret          (from the relay operator)
//   posrelay_webhook_secret  whsec_…                  (from the relay operator)

import crypto from 'crypto';
import { fetch } from 'wix-fetch';
import { secrets } from 'wix-secrets-backend.v2';
import { elevate } from 'wix-auth';

export const SECRET_NAMES = {
  url: 'posrelay_url',
  keyId: 'posrelay_key_id',
  secret: 'posrelay_secret',
  webhookSecret: 'posrelay_webhook_secret',
};

// Tunables. Wix ends backend calls after 14 s; one relay call gets at most
// timeoutMs so the caller still has time to answer Wix.
export const options = {
  timeoutMs: 8000,
  webhookToleranceSec: 300,
};

// RelayError is an error answer from the relay:
// {"error":{"code","message","field","requestId"}}.
export class RelayError extends Error {
  constructor(status, code, message, field, requestId) {
    super(`posrelay ${status} ${code}: ${message}${requestId ? ` (request ${requestId})` : ''}`);
    this.name = 'RelayError';
    this.status = status;
    this.code = code;
    this.field = field || '';
    this.requestId = requestId || '';
    this.relayMessage = message;
  }
}

// RelayUnreachableError means no answer came: connection refused, DNS,
// TLS, or no answer within options.timeoutMs (timeout === true).
export class RelayUnreachableError extends Error {
  constructor(message, cause, timeout) {
    super(message);
    this.name = 'RelayUnreachableError';
    this.cause = cause;
    this.timeout = Boolean(timeout);
  }
}

// ConfigError means a secret is missing or malformed.
export class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConfigError';
  }
}

const getSecretValue = elevate(secrets.getSecretValue);

async function readSecret(name) {
  let res;
  try {
    res = await getSecretValue(name);
  } catch (err) {
    throw new ConfigError(`secret ${name} could not be read (${err && err.message ? err.message : err}); create it in the Secrets Manager`);
  }
  const value = res && typeof res.value === 'string' ? res.value.trim() : '';
  if (!value) {
    throw new ConfigError(`secret ${name} is empty or missing; create it in the Secrets Manager`);
  }
  return value;
}

async function relayConfig() {
  const [url, keyId, secret] = await Promise.all([
    readSecret(SECRET_NAMES.url), readSecret(SECRET_NAMES.keyId), readSecret(SECRET_NAMES.secret),
  ]);
  let base;
  try {
    base = new URL(url);
  } catch (err) {
    throw new ConfigError(`secret ${SECRET_NAMES.url} is not a URL; use e.g. https://pay.example.com`);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new ConfigError(`secret ${SECRET_NAMES.url} must start with https://`);
  }
  return { origin: base.origin, prefix: base.pathname.replace(/\/+$/, ''), keyId, secret };
}

// nonce is 16 random bytes as unpadded base64url (22 characters).
export function newNonce() {
  return crypto.randomBytes(16).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// signRequest returns the scheme v1 headers for one request: HMAC-SHA256,
// keyed with the secret's UTF-8 bytes, over seven lines joined by "\n" —
// v1, key id, timestamp, nonce, METHOD, target (path and query exactly as
// sent), lower-case hex SHA-256 of the body (of "" when there is none).
export function signRequest({ keyId, secret, method, target, body, timestamp, nonce }) {
  const ts = String(timestamp !== undefined ? timestamp : Math.floor(Date.now() / 1000));
  const n = nonce || newNonce();
  const bodyHash = crypto.createHash('sha256').update(body || '', 'utf8').digest('hex');
  const lines = ['v1', keyId, ts, n, String(method).toUpperCase(), target, bodyHash].join('\n');
  const sig = crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(lines, 'utf8').digest('base64');
  return {
    'X-PosRelay-Key': keyId,
    'X-PosRelay-Timestamp': ts,
    'X-PosRelay-Nonce': n,
    'X-PosRelay-Signature': 'v1=' + sig,
  };
}

// fetchWithTimeout runs fetch with an AbortController where there is one (and a
// timer either way, since wix-fetch may ignore the signal).
async function fetchWithTimeout(url, init, ms) {
  const ctrl = typeof AbortController === 'function' ? new AbortController() : null;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      if (ctrl) ctrl.abort();
      reject(new RelayUnreachableError(`posrelay did not answer within ${ms} ms`, null, true));
    }, ms);
  });
  const req = Object.assign({}, init);
  if (ctrl) req.signal = ctrl.signal;
  try {
    const res = await Promise.race([fetch(url, req), timeout]);
    const text = await Promise.race([res.text(), timeout]);
    return { res, text };
  } catch (err) {
    if (err instanceof RelayUnreachableError) throw err;
    if (err && err.name === 'AbortError') {
      throw new RelayUnreachableError(`posrelay did not answer within ${ms} ms`, err, true);
    }
    const cause = err && err.cause && err.cause.code ? ` (${err.cause.code})` : '';
    throw new RelayUnreachableError(`posrelay could not be reached: ${err && err.message ? err.message : err}${cause}`, err, false);
  } finally {
    clearTimeout(timer);
  }
}

function header(res, name) {
  if (!res.headers) return '';
  if (typeof res.headers.get === 'function') return res.headers.get(name) || '';
  return res.headers[name] || res.headers[name.toLowerCase()] || '';
}

// call sends one signed request and returns {status, body}. Error answers
// (status ≥ 300) throw RelayError. callOptions.timeoutMs overrides
// options.timeoutMs for this call.
export async function call(method, path, payload, extraHeaders, callOptions) {
  const cfg = await relayConfig();
  const url = new URL(cfg.prefix + path, cfg.origin);
  const target = url.pathname + url.search;
  const body = payload === undefined || payload === null ? '' : JSON.stringify(payload);
  const headers = Object.assign(
    { Accept: 'application/json' },
    body ? { 'Content-Type': 'application/json' } : {},
    extraHeaders || {},
    signRequest({ keyId: cfg.keyId, secret: cfg.secret, method, target, body }),
  );
  const init = { method, headers };
  if (body) init.body = body;
  const ms = (callOptions && callOptions.timeoutMs) || options.timeoutMs;
  const { res, text } = await fetchWithTimeout(url.href, init, ms);
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (err) {
    json = null;
  }
  const requestId = header(res, 'X-Request-Id');
  if (res.status >= 300) {
    const e = json && json.error;
    if (e && e.code) {
      throw new RelayError(res.status, e.code, e.message || '', e.field, e.requestId || requestId);
    }
    throw new RelayError(res.status, 'http_' + res.status, String(text || res.statusText || '').slice(0, 200), '', requestId);
  }
  if (json === null) {
    throw new RelayError(res.status, 'invalid_answer', 'the relay answered something that is not JSON', '', requestId);
  }
  return { status: res.status, body: json };
}

function idemHeader(idemKey) {
  return idemKey ? { 'Idempotency-Key': String(idemKey) } : {};
}

function paymentPath(id) {
  if (!id || typeof id !== 'string') throw new TypeError('payment id is required');
  return '/v1/payments/' + encodeURIComponent(id);
}

// whoami returns the site, key, banks and egress IPs the relay knows for
// this key.
export async function whoami() {
  return (await call('GET', '/v1/whoami')).body;
}

// createPayment starts a payment (api.CreatePayment) and returns the
// relay's payment (id, status, redirectUrl, expiresAt, …).
export async function createPayment(req, idemKey) {
  return (await call('POST', '/v1/payments', req, idemHeader(idemKey))).body;
}

// getPayment reads a payment; refresh asks the bank's status API too.
export async function getPayment(id, refresh, callOptions) {
  return (await call('GET', paymentPath(id) + (refresh ? '?refresh=true' : ''), null, null, callOptions)).body;
}

// The relay waits up to 10 s for the bank on a refund, void or capture
// before it answers 202 with the operation still open.
const OPERATION_TIMEOUT_MS = 11000;

function opOptions(callOptions) {
  return Object.assign({ timeoutMs: Math.max(options.timeoutMs, OPERATION_TIMEOUT_MS) }, callOptions);
}

// refund refunds all (amount 0 or absent) or part of a payment. It returns
// the operation: status succeeded|failed (HTTP 200) or pending|unknown
// (HTTP 202, settled later by a refund.* webhook). The idempotency key
// defaults to wixRefundId.
export async function refund(id, { amount, wixRefundId, reason } = {}, idemKey, callOptions) {
  const body = {};
  if (amount) body.amount = amount;
  if (wixRefundId) body.wixRefundId = wixRefundId;
  if (reason) body.reason = reason;
  return (await call('POST', paymentPath(id) + '/refunds', body, idemHeader(idemKey || wixRefundId), opOptions(callOptions))).body;
}

// void cancels a payment on the day it was made (before the bank's end of
// day). Exported as `void` and `voidPayment`. A void that stands for a Wix
// refund names it (wixRefundId), so that the relay's payment.voided or
// payment.void_failed webhook is told to Wix against that refund.
async function voidPayment(id, idemKey, callOptions, { wixRefundId } = {}) {
  const body = wixRefundId ? { wixRefundId } : {};
  return (await call('POST', paymentPath(id) + '/void', body, idemHeader(idemKey || wixRefundId), opOptions(callOptions))).body;
}
export { voidPayment as void, voidPayment };

// capture completes a pre-authorisation (amount 0 or absent: all of it).
export async function capture(id, { amount } = {}, idemKey, callOptions) {
  const body = amount ? { amount } : {};
  return (await call('POST', paymentPath(id) + '/capture', body, idemHeader(idemKey), opOptions(callOptions))).body;
}

// ---- Webhooks (Standard Webhooks v1) ----

export class WebhookError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'WebhookError';
    this.code = code;
  }
}

function webhookKey(whsec) {
  const enc = whsec.startsWith('whsec_') ? whsec.slice(6) : whsec;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(enc)) {
    throw new ConfigError(`secret ${SECRET_NAMES.webhookSecret} is not whsec_ followed by base64`);
  }
  const key = Buffer.from(enc, 'base64');
  if (key.length < 24 || key.length > 64) {
    throw new ConfigError(`secret ${SECRET_NAMES.webhookSecret} decodes to ${key.length} bytes; expected 24 to 64`);
  }
  return key;
}

// verifyWebhookSignature checks one delivery against the secret: the
// timestamp within the tolerance either way, and some "v1,<base64>" entry
// of the space-separated signature header equal (constant time) to
// HMAC-SHA256(key, id + "." + timestamp + "." + rawBody).
export function verifyWebhookSignature(whsec, id, timestamp, signatureHeader, rawBody, nowSec, toleranceSec) {
  if (!id || !timestamp || !signatureHeader) {
    throw new WebhookError('missing_header', 'webhook-id, webhook-timestamp and webhook-signature are required');
  }
  if (!/^[0-9]{1,15}$/.test(timestamp)) {
    throw new WebhookError('bad_timestamp', 'webhook-timestamp must be Unix seconds');
  }
  const now = nowSec !== undefined ? nowSec : Math.floor(Date.now() / 1000);
  const tol = toleranceSec !== undefined ? toleranceSec : options.webhookToleranceSec;
  const ts = Number(timestamp);
  if (Math.abs(now - ts) > tol) {
    throw new WebhookError('stale_timestamp', 'webhook-timestamp is outside the allowed window');
  }
  const key = webhookKey(whsec);
  const want = crypto.createHmac('sha256', key).update(`${id}.${timestamp}.`, 'utf8').update(rawBody, 'utf8').digest();
  for (const entry of String(signatureHeader).split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const enc = entry.slice(comma + 1);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(enc)) continue;
    const got = Buffer.from(enc, 'base64');
    if (got.length === want.length && crypto.timingSafeEqual(got, want)) return;
  }
  throw new WebhookError('bad_signature', 'no v1 signature matches');
}

// verifyWebhook reads the webhook secret and checks a delivery; it returns
// the parsed event. headers is a plain object (any case).
export async function verifyWebhook(headers, rawBody) {
  const h = {};
  for (const k of Object.keys(headers || {})) h[k.toLowerCase()] = String(headers[k]);
  const whsec = await readSecret(SECRET_NAMES.webhookSecret);
  verifyWebhookSignature(whsec, h['webhook-id'], h['webhook-timestamp'], h['webhook-signature'], rawBody);
  let event;
  try {
    event = JSON.parse(rawBody);
  } catch (err) {
    throw new WebhookError('bad_body', 'the body is not JSON');
  }
  if (!event || typeof event.type !== 'string' || !event.data || typeof event.data !== 'object') {
    throw new WebhookError('bad_body', 'the body is not a posrelay event');
  }
  return { id: h['webhook-id'], event };
}

// ---- Wix submitEvent shapes ----

// Wix reason codes used when the relay sent none.
const FALLBACK_REASON = {
  'payment.failed': 3000,
  'payment.canceled': 3030,
  'payment.expired': 3035,
  'refund.failed': 3022,
  'payment.void_failed': 3022,
};

function withError(target, data, type) {
  target.reasonCode = Number(data.reasonCode) || FALLBACK_REASON[type] || 6000;
  if (data.errorCode) target.errorCode = String(data.errorCode);
  if (data.errorMessage) target.errorMessage = String(data.errorMessage);
  return target;
}

// voidRefundId is the pluginRefundId that stands for a payment's void.
export function voidRefundId(paymentId) {
  return `${paymentId}-void`;
}

// submitEventFor maps a relay event to the argument of Wix's
// submitEvent(), or null when there is nothing to tell Wix (an event type
// this kit does not know, or a payment that did not come from Wix).
//
//   payment.succeeded        → transaction {wixTransactionId, pluginTransactionId}, no reasonCode
//   payment.failed|canceled|expired → transaction + reasonCode, errorCode, errorMessage
//   refund.succeeded         → refund {wixTransactionId, wixRefundId, pluginRefundId, amount}
//   refund.failed            → refund + reasonCode, errorCode, errorMessage (none for
//                              refund_before_settlement: refundTransaction answered it)
//   payment.voided           → refund {wixTransactionId, pluginRefundId: <payment id>-void,
//                              amount: the whole payment} (see README: a same-day cancel is,
//                              for the Wix order, all the money given back); wixRefundId
//                              when the void stood for a Wix refund
//   payment.void_failed      → for a void that stood for a Wix refund: that refund failed,
//                              with reasonCode, errorCode, errorMessage; otherwise nothing
export function submitEventFor(event) {
  const type = event.type;
  const d = event.data || {};
  if (!d.wixTransactionId) return null;
  const pluginTransactionId = d.pluginTransactionId || d.paymentId;
  switch (type) {
    case 'payment.succeeded':
      return { event: { transaction: { wixTransactionId: d.wixTransactionId, pluginTransactionId } } };
    case 'payment.failed':
    case 'payment.canceled':
    case 'payment.expired':
      return { event: { transaction: withError({ wixTransactionId: d.wixTransactionId, pluginTransactionId }, d, type) } };
    case 'refund.succeeded':
    case 'refund.failed': {
      // refundTransaction answers this refusal itself (it voids instead, or
      // tells Wix the part must wait for tomorrow): the event would
      // contradict that answer.
      if (type === 'refund.failed' && d.errorCode === 'refund_before_settlement') return null;
      const refund = { wixTransactionId: d.wixTransactionId, pluginRefundId: d.pluginRefundId || d.refundId };
      if (d.wixRefundId) refund.wixRefundId = d.wixRefundId;
      refund.amount = String(d.refundAmount || d.amount || 0);
      return { event: { refund: type === 'refund.failed' ? withError(refund, d, type) : refund } };
    }
    case 'payment.voided':
    case 'payment.void_failed': {
      // Always the same pluginRefundId for a payment's (one) void: the one
      // refundTransaction answers when it voids instead of refunding.
      const refund = { wixTransactionId: d.wixTransactionId, pluginRefundId: voidRefundId(pluginTransactionId) };
      if (d.wixRefundId) refund.wixRefundId = d.wixRefundId;
      refund.amount = String(d.amount || 0);
      if (type === 'payment.voided') return { event: { refund } };
      // A void Wix never asked for (no refund behind it) failing changes
      // nothing Wix knows of: the payment stands.
      return d.wixRefundId ? { event: { refund: withError(refund, d, type) } } : null;
    }
    default:
      return null;
  }
}
