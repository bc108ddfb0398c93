// Module resolution hooks that make Node load the kit as Velo does: the
// wix-* modules resolve to the stand-ins in ./stubs, and "backend/<file>"
// resolves to wix/backend/<file>.js (Velo's backend import convention).
const stubs = new URL('./stubs/', import.meta.url);
const backend = new URL('../backend/', import.meta.url);

const STUBS = {
  'wix-secrets-backend.v2': 'wix-secrets-backend.v2.js',
  'wix-auth': 'wix-auth.js',
  'wix-fetch': 'wix-fetch.js',
  'wix-data': 'wix-data.js',
  'wix-payment-provider-backend': 'wix-payment-provider-backend.js',
  'wix-http-functions': 'wix-http-functions.js',
};

export async function resolve(specifier, context, nextResolve) {
  if (Object.prototype.hasOwnProperty.call(STUBS, specifier)) {
    return { url: new URL(STUBS[specifier], stubs).href, shortCircuit: true };
  }
  if (specifier.startsWith('backend/')) {
    const file = specifier.slice('backend/'.length);
    return { url: new URL(file.endsWith('.js') ? file : `${file}.js`, backend).href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
