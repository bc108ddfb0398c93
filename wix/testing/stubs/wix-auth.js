// Stand-in for Velo's wix-auth: elevate(fn) runs fn with elevated
// permissions (tracked so the secrets stand-in can refuse plain calls).
let depth = 0;

export function isElevated() {
  return depth > 0;
}

export function elevate(fn) {
  if (typeof fn !== 'function') throw new TypeError('elevate() takes a function');
  return async function elevated(...args) {
    depth++;
    try {
      // The elevated call starts synchronously, so the check inside it sees depth > 0.
      const p = fn(...args);
      return await p;
    } finally {
      depth--;
    }
  };
}

export default { elevate };
