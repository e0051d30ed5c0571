// SPDX-License-Identifier: GPL-3.0-or-later
// Shared checks for path parameters, so every `/v1/:c…` route answers the same codes:
// 400 invalid_name for a malformed name, 404 collection_not_found for an unknown one.

import { checkCollectionName, DualStoreError, type Store } from '@dualstore/core';

/**
 * Collections known to exist, per store. There is no way to delete a collection, so a name once
 * found stays valid; caching it saves a store read on every request (unknown names are always
 * looked up, so one created by the CLI a moment ago is found at once).
 */
const known = new WeakMap<Store, Set<string>>();

/** True when `name` is a collection already found in `store` (no store read, no promise). */
export function isKnownCollection(store: Store, name: string): boolean {
  return known.get(store)?.has(name) === true;
}

export async function collectionParam(store: Store, name: string): Promise<string> {
  if (isKnownCollection(store, name)) return name;
  checkCollectionName(name);
  if ((await store.getCollection(name)) === undefined) {
    throw new DualStoreError('collection_not_found', `collection "${name}" does not exist`);
  }
  let names = known.get(store);
  if (names === undefined) {
    names = new Set();
    known.set(store, names);
  }
  names.add(name);
  return name;
}
