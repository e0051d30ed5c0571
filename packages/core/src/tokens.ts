// SPDX-License-Identifier: GPL-3.0-or-later
// Scoped access tokens (DESIGN §8): the scope model, the secret format and the one hash that the
// server and the CLI (local mode) must agree on. A store only ever sees the hash, so a leaked
// database does not leak usable secrets.
//
// node:crypto is imported here because hashing runs on every authenticated request and Web
// Crypto's digest is async and ~20× slower; browser bundles import types only from core (STYLE),
// so this does not reach them.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DualStoreError } from './errors.js';
import { checkCollectionName } from './requests.js';

/** What an access token may do. `admin` implies every other scope; the others imply nothing. */
export const TOKEN_SCOPES = ['read', 'write', 'claim', 'admin'] as const;

export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** A token as stores return it: never the secret, never its hash. */
export interface TokenInfo {
  id: string;
  /** A label for people (`dashboard`, `ci-pusher`); not unique. */
  name: string;
  /** In TOKEN_SCOPES order, without duplicates. */
  scopes: TokenScope[];
  /** The collections the token is limited to, sorted; null means all. */
  collections: string[] | null;
  created_at: string;
  /** When it was revoked; null while it is valid. */
  revoked_at: string | null;
}

/** What `Store.createToken` takes: the secret's hash (see hashTokenSecret), never the secret. */
export interface NewToken {
  name: string;
  scopes: readonly TokenScope[];
  /** Limit the token to these collections. Absent: all collections. */
  collections?: readonly string[];
  /** `hashTokenSecret(secret)`: 64 lower-case hex characters. */
  hash: string;
}

/** Prefix of every generated secret, so secret scanners and people can recognise one. */
export const TOKEN_SECRET_PREFIX = 'dst_';

const TOKEN_NAME = /^[^\u0000-\u001f\u007f]{1,128}$/;
const TOKEN_HASH = /^[0-9a-f]{64}$/;

/**
 * A new random token secret: `dst_` and 256 random bits in base64url. Show it once; store only
 * `hashTokenSecret(secret)`.
 *
 * @example
 * const secret = newTokenSecret();
 * await store.createToken({ name: 'ci', scopes: ['write'], hash: hashTokenSecret(secret) });
 */
export function newTokenSecret(): string {
  return `${TOKEN_SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * The hash stores keep and look tokens up by: SHA-256 of the UTF-8 secret, lower-case hex. A
 * plain (unsalted) hash is enough because secrets are 256 random bits, and it lets the server
 * find a token with one indexed lookup instead of comparing against every stored token.
 */
export function hashTokenSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * Compare two secrets (or hashes) in time independent of where they differ. Both are hashed
 * first, so the comparison has equal lengths and a length mismatch leaks nothing either.
 */
export function secretsEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a, 'utf8').digest();
  const right = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(left, right);
}

/** True when a holder of `scopes` may act where `needed` is required (`admin` implies all). */
export function scopesAllow(scopes: readonly TokenScope[], needed: TokenScope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}

/**
 * Validate and normalise a NewToken (scopes and collections sorted and de-duplicated), so every
 * backend refuses the same inputs with the same codes.
 * @throws DualStoreError `validation_failed` or `invalid_name`
 */
export function validateNewToken(input: NewToken): Required<Omit<NewToken, 'collections'>> & {
  collections: string[] | null;
} {
  if (typeof input !== 'object' || input === null) {
    throw new DualStoreError('validation_failed', 'a token needs { name, scopes, hash }');
  }
  if (typeof input.name !== 'string' || !TOKEN_NAME.test(input.name)) {
    throw new DualStoreError('validation_failed', 'token name must be 1..128 characters without control characters', {
      errors: [{ path: 'name', message: 'expected 1..128 printable characters' }],
    });
  }
  if (!Array.isArray(input.scopes) || input.scopes.length === 0) {
    throw new DualStoreError(
      'validation_failed',
      `token scopes must be a non-empty list of ${TOKEN_SCOPES.join(', ')}`,
      {
        errors: [{ path: 'scopes', message: 'expected at least one scope' }],
      },
    );
  }
  for (const scope of input.scopes) {
    if (!(TOKEN_SCOPES as readonly unknown[]).includes(scope)) {
      throw new DualStoreError(
        'validation_failed',
        `"${String(scope).slice(0, 40)}" is not a token scope; use ${TOKEN_SCOPES.join(', ')}`,
        { errors: [{ path: 'scopes', message: `unknown scope ${String(scope).slice(0, 40)}` }] },
      );
    }
  }
  let collections: string[] | null = null;
  if (input.collections !== undefined) {
    if (!Array.isArray(input.collections) || input.collections.length === 0) {
      throw new DualStoreError(
        'validation_failed',
        'token collections must be a non-empty list of collection names (omit it for all collections)',
        { errors: [{ path: 'collections', message: 'expected at least one collection' }] },
      );
    }
    collections = [...new Set(input.collections.map((name) => checkCollectionName(name)))].sort();
  }
  if (typeof input.hash !== 'string' || !TOKEN_HASH.test(input.hash)) {
    throw new DualStoreError(
      'validation_failed',
      'token hash must be hashTokenSecret(secret): 64 lower-case hex digits',
      {
        errors: [{ path: 'hash', message: 'expected 64 lower-case hex digits' }],
      },
    );
  }
  const order = (scope: TokenScope) => TOKEN_SCOPES.indexOf(scope);
  const scopes = [...new Set(input.scopes)].sort((a, b) => order(a) - order(b));
  return { name: input.name, scopes, collections, hash: input.hash };
}
