// SPDX-License-Identifier: GPL-3.0-or-later
// Access-token helpers: the secret format, the hash the server and the CLI must agree on, the
// scope rule and input normalisation.

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type DualStoreError,
  hashTokenSecret,
  newTokenSecret,
  scopesAllow,
  secretsEqual,
  TOKEN_SECRET_PREFIX,
  validateNewToken,
} from '../src/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as DualStoreError).code;
  }
  return undefined;
}

describe('token secrets', () => {
  it('are prefixed, URL-safe and carry 256 random bits', () => {
    const secret = newTokenSecret();
    expect(secret.startsWith(TOKEN_SECRET_PREFIX)).toBe(true);
    expect(secret.slice(TOKEN_SECRET_PREFIX.length)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(Array.from({ length: 100 }, newTokenSecret)).size).toBe(100);
  });

  it('hash to lower-case hex SHA-256 of the UTF-8 secret (the stored form)', () => {
    // Pinned so the CLI and the server (and a Postgres store) cannot drift apart.
    expect(hashTokenSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashTokenSecret('é')).toBe(createHash('sha256').update(Buffer.from('é', 'utf8')).digest('hex'));
  });

  it('compare equal only when identical, whatever the lengths', () => {
    expect(secretsEqual('s3cret', 's3cret')).toBe(true);
    expect(secretsEqual('s3cret', 's3cres')).toBe(false);
    expect(secretsEqual('s3cret', 's3cret-longer')).toBe(false);
    expect(secretsEqual('', 'x')).toBe(false);
  });
});

describe('scopes', () => {
  it('admin implies every scope; the others imply only themselves', () => {
    for (const needed of ['read', 'write', 'claim', 'admin'] as const)
      expect(scopesAllow(['admin'], needed)).toBe(true);
    expect(scopesAllow(['write'], 'read')).toBe(false);
    expect(scopesAllow(['read'], 'write')).toBe(false);
    expect(scopesAllow(['claim'], 'write')).toBe(false);
    expect(scopesAllow(['read', 'write'], 'admin')).toBe(false);
    expect(scopesAllow(['read', 'write'], 'write')).toBe(true);
  });
});

describe('validateNewToken', () => {
  const hash = hashTokenSecret('x');

  it('de-duplicates and orders scopes and collections', () => {
    expect(
      validateNewToken({ name: 'n', scopes: ['admin', 'read', 'read'], collections: ['b', 'a', 'b'], hash }),
    ).toEqual({ name: 'n', scopes: ['read', 'admin'], collections: ['a', 'b'], hash });
    expect(validateNewToken({ name: 'n', scopes: ['write'], hash }).collections).toBeNull();
  });

  it('refuses bad names, scopes, collections and hashes with coded errors', () => {
    expect(codeOf(() => validateNewToken({ name: 'a\nb', scopes: ['read'], hash }))).toBe('validation_failed');
    expect(codeOf(() => validateNewToken({ name: 'x'.repeat(129), scopes: ['read'], hash }))).toBe('validation_failed');
    expect(codeOf(() => validateNewToken({ name: 'n', scopes: ['root' as never], hash }))).toBe('validation_failed');
    expect(codeOf(() => validateNewToken({ name: 'n', scopes: ['read'], collections: ['topics'], hash }))).toBe(
      'invalid_name',
    );
    expect(codeOf(() => validateNewToken({ name: 'n', scopes: ['read'], hash: hash.toUpperCase() }))).toBe(
      'validation_failed',
    );
    expect(codeOf(() => validateNewToken(null as never))).toBe('validation_failed');
  });
});
