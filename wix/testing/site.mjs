// A stand-in for the Wix site's HTTP functions: a loopback HTTP server that
// turns each POST /_functions/posrelay into a WixHttpFunctionRequest and
// calls the kit's post_posrelay, the way Wix does for
// https://<site>/_functions/posrelay. Every delivery is recorded (headers,
// raw body, answer) so tests can replay one.
import http from 'node:http';

// wixRequest builds what Wix hands an HTTP function.
export function wixRequest({ method = 'POST', headers = {}, raw = '', url = 'http://127.0.0.1/_functions/posrelay', ip = '127.0.0.1' }) {
  const u = new URL(url);
  const parts = u.pathname.split('/').filter(Boolean); // _functions, posrelay, …
  return {
    method,
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)])),
    url: u.href,
    baseUrl: u.origin,
    functionName: parts[1] || '',
    path: parts.slice(2),
    query: Object.fromEntries(u.searchParams),
    ip,
    body: {
      text: async () => raw,
      json: async () => JSON.parse(raw),
      buffer: async () => Buffer.from(raw, 'utf8'),
    },
  };
}

// startSite listens on port (0 = any) and serves the kit's HTTP functions.
export async function startSite(functions, port = 0) {
  const deliveries = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url, `http://${req.headers.host || '127.0.0.1'}`);
      const name = u.pathname.split('/').filter(Boolean);
      const fn = name[0] === '_functions' && functions[`${req.method.toLowerCase()}_${name[1]}`];
      let answer;
      if (!fn) {
        answer = { status: 404, body: { error: 'no such function' }, headers: {} };
      } else {
        try {
          answer = await fn(wixRequest({ method: req.method, headers: req.headers, raw, url: u.href, ip: req.socket.remoteAddress }));
        } catch (err) {
          // Wix answers 500 when an HTTP function throws.
          answer = { status: 500, body: { error: String(err && err.message) }, headers: {}, threw: err };
        }
      }
      deliveries.push({ headers: { ...req.headers }, raw, url: u.href, answer, at: Date.now() });
      const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body === undefined ? {} : answer.body);
      res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
      res.end(body);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}/_functions/posrelay`,
    deliveries,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

// eventually polls check() until it returns a truthy value or the deadline
// passes; it returns the value or throws with the description.
export async function eventually(what, check, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let wait = 10;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 100);
  }
}
