// Stand-in for Velo's wix-secrets-backend.v2: secrets live in `store`;
// getSecretValue refuses to run unless elevated (as Wix says it must be).
import { isElevated } from './wix-auth.js';

export const store = new Map();
export const calls = { getSecretValue: 0 };

export const secrets = {
  async getSecretValue(name) {
    calls.getSecretValue++;
    if (!isElevated()) {
      const err = new Error('Permission denied: getSecretValue requires elevated permissions');
      err.code = 'PERMISSION_DENIED';
      throw err;
    }
    if (!store.has(name)) {
      const err = new Error(`Secret not found: ${name}`);
      err.code = 'SECRET_NOT_FOUND';
      throw err;
    }
    return { value: store.get(name) };
  },
};

export default { secrets };
