// Stand-in for Velo's wix-data: in-memory collections. Like Wix, an insert
// whose _id exists fails (WDE0074), and an anonymous caller (HTTP
// functions run as one) needs suppressAuth for an Admin-only collection.
export const collections = new Map();
export const control = { missing: new Set(), failInsert: null };

function coll(name, options) {
  if (control.missing.has(name)) {
    const err = new Error(`WDE0025: The ${name} collection does not exist. You cannot work with a collection using the Data API before it is created in the Editor.`);
    err.code = 'WDE0025';
    throw err;
  }
  if (!options || options.suppressAuth !== true) {
    const err = new Error(`WDE0027: The current user does not have permissions to insert on the ${name} collection.`);
    err.code = 'WDE0027';
    throw err;
  }
  if (!collections.has(name)) collections.set(name, new Map());
  return collections.get(name);
}

export async function insert(name, item, options) {
  if (control.failInsert) throw control.failInsert;
  const c = coll(name, options);
  const id = item._id || `id-${c.size + 1}-${Date.now()}`;
  if (c.has(id)) {
    const err = new Error(`WDE0074: An item with _id [${id}] already exists in collection [${name}].`);
    err.code = 'WDE0074';
    throw err;
  }
  const stored = Object.assign({}, item, { _id: id, _createdDate: new Date() });
  c.set(id, stored);
  return Object.assign({}, stored);
}

export async function get(name, id, options) {
  const c = coll(name, options);
  return c.has(id) ? Object.assign({}, c.get(id)) : null;
}

export async function remove(name, id, options) {
  const c = coll(name, options);
  const item = c.get(id) || null;
  c.delete(id);
  return item;
}

export default { insert, get, remove };
