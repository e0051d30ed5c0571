// SPDX-License-Identifier: GPL-3.0-or-later
// Shared checks for path parameters, so every `/v1/:c…` route answers the same codes:
// 400 invalid_name for a malformed name, 404 collection_not_found for an unknown one.

import { checkCollectionName, DualStoreError, type Store } from '@dualstore/core';

export async function collectionParam(store: Store, name: string): Promise<string> {
  checkCollectionName(name);
  if ((await store.getCollection(name)) === undefined) {
    throw new DualStoreError('collection_not_found', `collection "${name}" does not exist`);
  }
  return name;
}
