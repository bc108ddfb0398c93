// Stand-in for Velo's wix-fetch: Node's fetch, with every call recorded.
export const requests = [];

export function fetch(url, init) {
  requests.push({ url: String(url), method: (init && init.method) || 'GET', headers: Object.assign({}, init && init.headers) });
  return globalThis.fetch(url, init);
}

export async function getJSON(url, init) {
  const res = await fetch(url, Object.assign({ method: 'GET', headers: { Accept: 'application/json' } }, init));
  return res.json();
}

export default { fetch, getJSON };
