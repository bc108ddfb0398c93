// Runs the Velo kit as a stand-in Wix site for `posrelay demo`, so the
// demo's shop goes through exactly the code a Wix site runs:
//
//   POST /_plugin/createTransaction   → the payment plugin's createTransaction
//   POST /_plugin/refundTransaction   → its refundTransaction
//   POST /_functions/posrelay         → http-functions.js post_posrelay (webhooks)
//   GET  /_submitted                  → what the kit passed to submitEvent
//   GET  /healthz
//
// The relay's address and keys come from demo.json (POSRELAY_DEMO_JSON) and
// are put into the Secrets Manager stand-in. It prints "listening PORT"
// once it accepts connections (POSRELAY_SITE_PORT, 0 = any).
import http from 'node:http';
import { plugin, httpFunctions, paymentsStub, useRelay, demo } from './kit.mjs';
import { wixRequest } from './site.mjs';

const d = demo();
if (!d) {
  console.error('POSRELAY_DEMO_JSON is not set');
  process.exit(2);
}
useRelay(d);

function send(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url, 'http://127.0.0.1');
    try {
      if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
      if (req.method === 'GET' && url.pathname === '/_submitted') return send(res, 200, paymentsStub.submitted);
      if (req.method === 'POST' && url.pathname === '/_plugin/createTransaction') {
        return send(res, 200, await plugin.createTransaction(JSON.parse(raw), {}));
      }
      if (req.method === 'POST' && url.pathname === '/_plugin/refundTransaction') {
        return send(res, 200, await plugin.refundTransaction(JSON.parse(raw), {}));
      }
      if (req.method === 'POST' && url.pathname === '/_functions/posrelay') {
        const answer = await httpFunctions.post_posrelay(wixRequest({
          method: req.method, headers: req.headers, raw, url: url.href, ip: req.socket.remoteAddress,
        }));
        return send(res, answer.status, answer.body === undefined ? {} : answer.body);
      }
      return send(res, 404, { error: 'no such route' });
    } catch (err) {
      // Wix answers 500 when backend code throws.
      return send(res, 500, { error: String((err && err.message) || err) });
    }
  });
});

server.listen(Number(process.env.POSRELAY_SITE_PORT || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
