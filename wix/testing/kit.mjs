// Loads the Velo kit under Node with the stand-ins wired in (see
// hooks.mjs), and gives the tests the stand-ins' controls.
import { register } from 'node:module';
import { readFileSync } from 'node:fs';

register('./hooks.mjs', import.meta.url);

export const client = await import('backend/posrelay');
export const plugin = await import('backend/service-plugins/payment-provider/posrelay/posrelay');
export const pluginConfig = await import('backend/service-plugins/payment-provider/posrelay/posrelay-config');
export const httpFunctions = await import('backend/http-functions');

export const secretsStub = await import('./stubs/wix-secrets-backend.v2.js');
export const dataStub = await import('./stubs/wix-data.js');
export const paymentsStub = await import('./stubs/wix-payment-provider-backend.js');
export const fetchStub = await import('./stubs/wix-fetch.js');

// demo reads demo.json (path in POSRELAY_DEMO_JSON, written by demo.Run);
// null when the tests run without a relay.
export function demo() {
  const path = process.env.POSRELAY_DEMO_JSON;
  if (!path) return null;
  return JSON.parse(readFileSync(path, 'utf8'));
}

// useRelay puts the demo's relay and keys into the Secrets Manager stand-in.
export function useRelay(d, overrides = {}) {
  const s = secretsStub.store;
  s.clear();
  const n = client.SECRET_NAMES;
  const values = {
    [n.url]: d.relay, [n.keyId]: d.keyId, [n.secret]: d.secret, [n.webhookSecret]: d.webhookSecret,
    ...overrides,
  };
  for (const [k, v] of Object.entries(values)) {
    if (v !== undefined && v !== null) s.set(k, v);
  }
}

export const NO_RELAY = 'POSRELAY_DEMO_JSON is not set: run these tests through `go test ./wix/`, which starts a relay';
