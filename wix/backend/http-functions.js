// posrelay webhook receiver: https://<your-site>/_functions/posrelay
//
// Add this to backend/http-functions.js (merge the imports with the ones
// already there). The relay POSTs a signed event here when a payment or a
// refund ends; this function checks the signature, drops repeats and tells
// Wix with submitEvent(), which marks the order paid, declined or refunded.
//
// Needs: backend/posrelay.js, the secret posrelay_webhook_secret, and a CMS
// collection named PosRelayWebhooks (permissions: Admin only) — see README.

import { ok, badRequest, forbidden, serverError } from 'wix-http-functions';
import wixData from 'wix-data';
import wixPaymentProviderBackend from 'wix-payment-provider-backend';
import { verifyWebhook, submitEventFor, WebhookError } from 'backend/posrelay';

const POSRELAY_WEBHOOKS = 'PosRelayWebhooks';
const JSON_HEADERS = { 'Content-Type': 'application/json' };

function isDuplicateKey(err) {
  // wix-data refuses an insert whose _id exists (WDE0074, "already exists").
  const text = `${(err && err.code) || ''} ${(err && err.message) || err}`;
  return /WDE0074|already exists/i.test(text);
}

export async function post_posrelay(request) {
  let raw;
  try {
    raw = await request.body.text();
  } catch (err) {
    return badRequest({ body: { error: 'unreadable body' }, headers: JSON_HEADERS });
  }
  let verified;
  try {
    verified = await verifyWebhook(request.headers, raw);
  } catch (err) {
    if (err instanceof WebhookError) {
      console.warn(`posrelay webhook refused: ${err.code}`);
      if (err.code === 'bad_body') return badRequest({ body: { error: err.code }, headers: JSON_HEADERS });
      return forbidden({ body: { error: err.code }, headers: JSON_HEADERS });
    }
    // The secret is missing or malformed: let the relay retry once fixed.
    console.error(`posrelay webhook: ${err && err.message ? err.message : err}`);
    return serverError({ body: { error: 'not_configured' }, headers: JSON_HEADERS });
  }
  const { id, event } = verified;
  const submit = submitEventFor(event);

  // Drop repeats: the relay delivers at least once. The insert is the lock;
  // if submitEvent then fails, the record is removed so the retry counts.
  let recorded = false;
  try {
    await wixData.insert(POSRELAY_WEBHOOKS, {
      _id: id, type: event.type, paymentId: event.data.paymentId || '', receivedAt: new Date(),
    }, { suppressAuth: true });
    recorded = true;
  } catch (err) {
    if (isDuplicateKey(err)) {
      return ok({ body: { received: true, duplicate: true }, headers: JSON_HEADERS });
    }
    // No collection (or wix-data down): carry on without the check — Wix
    // accepts the same submitEvent payload twice.
    console.warn(`posrelay webhook: could not record ${id} in ${POSRELAY_WEBHOOKS}: ${err && err.message ? err.message : err}`);
  }

  if (!submit) {
    return ok({ body: { received: true, ignored: event.type }, headers: JSON_HEADERS });
  }
  try {
    await wixPaymentProviderBackend.submitEvent(submit);
  } catch (err) {
    console.error(`posrelay webhook ${id} (${event.type}): submitEvent failed: ${err && err.message ? err.message : err}`);
    if (recorded) {
      try {
        await wixData.remove(POSRELAY_WEBHOOKS, id, { suppressAuth: true });
      } catch (rmErr) {
        console.error(`posrelay webhook ${id}: could not un-record it: ${rmErr && rmErr.message ? rmErr.message : rmErr}`);
      }
    }
    return serverError({ body: { error: 'submit_failed' }, headers: JSON_HEADERS });
  }
  return ok({ body: { received: true }, headers: JSON_HEADERS });
}
