// SPDX-License-Identifier: GPL-3.0-or-later
// Contract: scoped access tokens — stored by hash only, found by hash, revocable, and visible to
// the server the moment they are written (DESIGN §8).

import { describe, expect } from 'vitest';
import { hashTokenSecret, newTokenSecret } from '../tokens.js';
import { expectCode, type SuiteContext } from './context.js';

type Test = (name: string, fn: () => Promise<void>) => void;

export function tokenCases(test: Test, ctx: () => SuiteContext): void {
  describe('tokens', () => {
    test('a new store has no tokens', async () => {
      const { store } = ctx();
      expect(await store.hasTokens()).toBe(false);
      expect(await store.listTokens()).toEqual([]);
    });

    test('creates a token and finds it by the hash of its secret', async () => {
      const { store, clock } = ctx();
      const secret = newTokenSecret();
      const created = await store.createToken({
        name: 'dashboard',
        scopes: ['read', 'claim', 'read'],
        collections: ['events', 'agent_tasks'],
        hash: hashTokenSecret(secret),
      });
      expect(created).toEqual({
        id: expect.any(String),
        name: 'dashboard',
        scopes: ['read', 'claim'],
        collections: ['agent_tasks', 'events'],
        created_at: new Date(clock.now()).toISOString(),
        revoked_at: null,
      });
      expect(await store.hasTokens()).toBe(true);
      expect(await store.findTokenByHash(hashTokenSecret(secret))).toEqual(created);
      expect(await store.findTokenByHash(hashTokenSecret(newTokenSecret()))).toBeUndefined();
    });

    test('a token without collections is for all collections (null)', async () => {
      const { store } = ctx();
      const created = await store.createToken({ name: 'ci', scopes: ['write'], hash: hashTokenSecret('s1') });
      expect(created.collections).toBeNull();
    });

    test('never returns the secret or its hash', async () => {
      const { store } = ctx();
      const secret = newTokenSecret();
      const hash = hashTokenSecret(secret);
      const created = await store.createToken({ name: 'n', scopes: ['admin'], hash });
      const everything = JSON.stringify([
        created,
        await store.listTokens(),
        await store.findTokenByHash(hash),
        await store.revokeToken(created.id),
      ]);
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(hash);
    });

    test('lists tokens oldest first, revoked ones included', async () => {
      const { store, clock } = ctx();
      const first = await store.createToken({ name: 'a', scopes: ['read'], hash: hashTokenSecret('a') });
      clock.advance(1000);
      const second = await store.createToken({ name: 'b', scopes: ['write'], hash: hashTokenSecret('b') });
      await store.revokeToken(first.id);
      const list = await store.listTokens();
      expect(list.map((t) => t.id)).toEqual([first.id, second.id]);
      expect(list[0]?.revoked_at).not.toBeNull();
      expect(list[1]?.revoked_at).toBeNull();
    });

    test('revoking marks the token; revoking again keeps the first time; unknown ids are undefined', async () => {
      const { store, clock } = ctx();
      const hash = hashTokenSecret('to-revoke');
      const { id } = await store.createToken({ name: 'r', scopes: ['read'], hash });
      clock.advance(5000);
      const revoked = await store.revokeToken(id);
      const at = new Date(clock.now()).toISOString();
      expect(revoked).toMatchObject({ id, revoked_at: at });
      expect(await store.findTokenByHash(hash)).toMatchObject({ id, revoked_at: at });
      clock.advance(5000);
      expect((await store.revokeToken(id))?.revoked_at).toBe(at);
      expect(await store.revokeToken('no-such-token')).toBeUndefined();
    });

    test('revoking every token does not make the store token-free', async () => {
      // The server opens the API only when no token was ever created: revoking the last token
      // must not hand its former holder (or anyone) open access.
      const { store } = ctx();
      const { id } = await store.createToken({ name: 'only', scopes: ['admin'], hash: hashTokenSecret('only') });
      await store.revokeToken(id);
      expect(await store.hasTokens()).toBe(true);
    });

    test('two tokens cannot share a hash', async () => {
      const { store } = ctx();
      const hash = hashTokenSecret('same');
      await store.createToken({ name: 'one', scopes: ['read'], hash });
      await expectCode(store.createToken({ name: 'two', scopes: ['read'], hash }), 'validation_failed');
    });

    test('refuses invalid tokens with coded errors', async () => {
      const { store } = ctx();
      const hash = hashTokenSecret('x');
      await expectCode(store.createToken({ name: '', scopes: ['read'], hash }), 'validation_failed');
      await expectCode(store.createToken({ name: 'n', scopes: [], hash }), 'validation_failed');
      await expectCode(store.createToken({ name: 'n', scopes: ['superuser' as never], hash }), 'validation_failed');
      await expectCode(store.createToken({ name: 'n', scopes: ['read'], hash: 'plain-secret' }), 'validation_failed');
      await expectCode(store.createToken({ name: 'n', scopes: ['read'], collections: [], hash }), 'validation_failed');
      await expectCode(
        store.createToken({ name: 'n', scopes: ['read'], collections: ['Bad Name'], hash }),
        'invalid_name',
      );
      expect(await store.hasTokens()).toBe(false);
    });
  });
}
