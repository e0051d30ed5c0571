// SPDX-License-Identifier: GPL-3.0-or-later
// `dualstore token create|list|revoke`: scoped access tokens (DESIGN §8), managed in the database
// file itself — there is deliberately no HTTP route that mints tokens, so holding the file (the
// machine's owner) is what lets you create them. The secret is printed once and stored only as
// its hash; the running server reads tokens on every request, so a new or revoked token takes
// effect at once.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  DualStoreError,
  hashTokenSecret,
  newTokenSecret,
  type TokenInfo,
  type TokenScope,
  validateNewToken,
} from '@dualstore/core';
import { openSqliteStore, type SqliteStore } from '@dualstore/store-sqlite';

async function withStore<T>(path: string, fn: (store: SqliteStore) => Promise<T>): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  // No collections created and no search workers: this touches only the tokens table.
  const store = await openSqliteStore({ path, collections: [], search: false });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * Create a token and return it with its secret (`secret`), which is shown this once.
 * @throws DualStoreError `validation_failed` / `invalid_name` for a bad name, scope or collection.
 */
export async function createToken(
  path: string,
  input: { name: string; scopes: string[]; collections: string[] | undefined },
): Promise<TokenInfo & { secret: string }> {
  const secret = newTokenSecret();
  const token = validateNewToken({
    name: input.name,
    scopes: input.scopes as TokenScope[],
    ...(input.collections === undefined ? {} : { collections: input.collections }),
    hash: hashTokenSecret(secret),
  });
  const info = await withStore(path, (store) =>
    store.createToken({
      name: token.name,
      scopes: token.scopes,
      ...(token.collections === null ? {} : { collections: token.collections }),
      hash: token.hash,
    }),
  );
  return { ...info, secret };
}

/** Every token, revoked ones included, oldest first (never a secret or a hash). */
export function listTokens(path: string): Promise<TokenInfo[]> {
  return withStore(path, (store) => store.listTokens());
}

/**
 * Revoke a token by id; revoking again keeps the first `revoked_at`.
 * @throws DualStoreError `not_found` when no token has this id.
 */
export function revokeToken(path: string, id: string): Promise<TokenInfo> {
  return withStore(path, async (store) => {
    const token = await store.revokeToken(id);
    if (token === undefined) throw new DualStoreError('not_found', `no token with id "${id.slice(0, 128)}"`);
    return token;
  });
}
