// Stand-in for Velo's wix-http-functions response helpers: each returns a
// WixHttpFunctionResponse-like {status, body, headers}; the helpers' status
// is fixed (a status in the options is ignored, as on Wix).
function make(status) {
  return (options = {}) => ({ status, body: options.body, headers: Object.assign({}, options.headers) });
}

export const ok = make(200);
export const created = make(201);
export const badRequest = make(400);
export const forbidden = make(403);
export const notFound = make(404);
export const serverError = make(500);
export function response(options = {}) {
  return { status: options.status || 200, body: options.body, headers: Object.assign({}, options.headers) };
}

export default { ok, created, badRequest, forbidden, notFound, serverError, response };
