// SPDX-License-Identifier: GPL-3.0-or-later
// Scoped access tokens in the `tokens` table (migration 2). Rows hold the SHA-256 of a secret,
// never the secret; no read here selects the hash column back out.

import {
  DualStoreError,
  type NewToken,
  newId,
  type TokenInfo,
  type TokenScope,
  toIso,
  validateNewToken,
} from '@dualstore/core';
import type { StatementCache } from './statement-cache.js';

interface TokenRow {
  id: string;
  name: string;
  scopes: string;
  collections: string | null;
  created_at: string;
  revoked_at: string | null;
}

const COLUMNS = 'id, name, scopes, collections, created_at, revoked_at';

function rowToToken(row: TokenRow): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as TokenScope[],
    collections: row.collections === null ? null : (JSON.parse(row.collections) as string[]),
    created_at: row.created_at,
    revoked_at: row.revoked_at,
  };
}

/** Token reads and writes; writes go through the store's group commit like every other write. */
export class Tokens {
  readonly #statements: StatementCache;
  readonly #write: <T>(operation: () => T) => Promise<T>;
  readonly #now: () => number;

  constructor(statements: StatementCache, write: <T>(operation: () => T) => Promise<T>, now: () => number) {
    this.#statements = statements;
    this.#write = write;
    this.#now = now;
  }

  create(input: NewToken): Promise<TokenInfo> {
    const valid = validateNewToken(input);
    return this.#write(() => {
      if (this.#statements.get('SELECT 1 FROM tokens WHERE hash = ?').get(valid.hash) !== undefined) {
        // Only a reused secret can collide (secrets are 256 random bits): refuse rather than
        // let one secret stand for two tokens.
        throw new DualStoreError('validation_failed', 'a token with this secret already exists; use a new secret', {
          errors: [{ path: 'hash', message: 'already used by another token' }],
        });
      }
      const row: TokenRow & { hash: string } = {
        id: newId(),
        name: valid.name,
        scopes: JSON.stringify(valid.scopes),
        collections: valid.collections === null ? null : JSON.stringify(valid.collections),
        hash: valid.hash,
        created_at: toIso(this.#now()),
        revoked_at: null,
      };
      this.#statements
        .get(
          `INSERT INTO tokens (id, name, scopes, collections, hash, created_at, revoked_at)
           VALUES (@id, @name, @scopes, @collections, @hash, @created_at, @revoked_at)`,
        )
        .run(row);
      return rowToToken(row);
    });
  }

  list(): TokenInfo[] {
    // rowid order is creation order (ids are time-ordered too, but two in one ms need not be).
    const rows = this.#statements.get(`SELECT ${COLUMNS} FROM tokens ORDER BY rowid`).all() as TokenRow[];
    return rows.map(rowToToken);
  }

  findByHash(hash: string): TokenInfo | undefined {
    if (typeof hash !== 'string') return undefined;
    const row = this.#statements.get(`SELECT ${COLUMNS} FROM tokens WHERE hash = ?`).get(hash) as TokenRow | undefined;
    return row === undefined ? undefined : rowToToken(row);
  }

  revoke(id: string): Promise<TokenInfo | undefined> {
    return this.#write(() => {
      if (typeof id !== 'string') return undefined;
      this.#statements
        .get('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
        .run(toIso(this.#now()), id);
      const row = this.#statements.get(`SELECT ${COLUMNS} FROM tokens WHERE id = ?`).get(id) as TokenRow | undefined;
      return row === undefined ? undefined : rowToToken(row);
    });
  }

  any(): boolean {
    return this.#statements.get('SELECT 1 FROM tokens LIMIT 1').get() !== undefined;
  }
}
