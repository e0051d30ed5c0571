// SPDX-License-Identifier: GPL-3.0-or-later
// SQLite-specific behaviour beyond the contract suite: pragmas, migrations, group commit, and
// notification of another connection's commits.

import { hashTokenSecret, newTokenSecret } from '@dualstore/core';
import { expectCode } from '@dualstore/core/contract';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openConnection } from '../src/connection.js';
import { openSqliteStore, SCHEMA_VERSION, type SqliteStore } from '../src/index.js';
import { migrate } from '../src/migrations.js';
import { MAIN_AUTOCHECKPOINT_PAGES } from '../src/search/wal-checkpointer.js';
import { newTestDb } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function open(
  options: Partial<Parameters<typeof openSqliteStore>[0]> = {},
  path?: string,
): Promise<{ store: SqliteStore; path: string }> {
  let dbPath = path;
  if (dbPath === undefined) {
    const db = newTestDb();
    cleanups.push(db.remove);
    dbPath = db.path;
  }
  const store = await openSqliteStore({ path: dbPath, search: false, ...options });
  cleanups.push(() => store.close());
  return { store, path: dbPath };
}

describe('SQLite store', () => {
  it('runs in WAL with the documented synchronous mode and a busy timeout', async () => {
    const { store } = await open();
    expect(store.database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.database.pragma('synchronous', { simple: true })).toBe(1);
    expect(store.database.pragma('busy_timeout', { simple: true })).toBe(5000);
    const { store: full } = await open({ durability: 'full' });
    expect(full.database.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('checkpoints the WAL itself only as a backstop while the indexer thread does it', async () => {
    const { store: plain } = await open();
    expect(plain.database.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    const { store: searching } = await open({ search: true });
    expect(searching.database.pragma('wal_autocheckpoint', { simple: true })).toBe(MAIN_AUTOCHECKPOINT_PAGES);
    expect(MAIN_AUTOCHECKPOINT_PAGES).toBeGreaterThan(1000);
  });

  it('records its schema version and refuses a file from a newer DualStore', async () => {
    const { store, path } = await open();
    expect(store.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    await store.close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    await expectCode(openSqliteStore({ path, search: false }), 'schema_too_new');
  });

  it('upgrades a schema-1 file (before tokens) in place, keeping its collections', async () => {
    // Guards migration 2: files written before scoped tokens existed must open and gain the table.
    const db = newTestDb();
    cleanups.push(db.remove);
    const raw = openConnection(db.path);
    migrate(raw, 1);
    raw
      .prepare('INSERT INTO collections (name, max_attempts, retention_days, created_at) VALUES (?, ?, ?, ?)')
      .run('legacy', 3, 30, '2026-01-01T00:00:00.000Z');
    expect(raw.pragma('user_version', { simple: true })).toBe(1);
    raw.close();
    const { store } = await open({}, db.path);
    expect(store.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect((await store.getCollection('legacy'))?.max_attempts).toBe(3);
    const token = await store.createToken({ name: 'ci', scopes: ['read'], hash: hashTokenSecret(newTokenSecret()) });
    expect((await store.listTokens()).map((t) => t.id)).toEqual([token.id]);
  });

  it('reopens an existing file without migrating twice and keeps its docs', async () => {
    const { store, path } = await open();
    const { id } = await store.insert('events', { text: 'persisted' });
    await store.close();
    const again = await openSqliteStore({ path, search: false });
    cleanups.push(() => again.close());
    expect((await again.get('events', id))?.text).toBe('persisted');
  });

  it('group commit: concurrent inserts share one transaction, each answered after the commit', async () => {
    const { store } = await open();
    const before = store.writeStats;
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.insert('events', { text: `g${i}` })));
    const after = store.writeStats;
    expect(after.operations - before.operations).toBe(200);
    expect(after.transactions - before.transactions).toBe(1);
    // Answered after commit: a second connection sees every acknowledged doc.
    const reader = new Database(store.database.name, { readonly: true });
    cleanups.push(() => {
      reader.close();
    });
    const count = reader.prepare("SELECT COUNT(*) AS n FROM docs WHERE collection = 'events'").get() as { n: number };
    expect(count.n).toBe(results.length);
  });

  it('group commit: one failing operation does not undo the others in its transaction', async () => {
    const { store } = await open();
    const outcomes = await Promise.allSettled([
      store.insert('events', { id: 'a', text: 'a' }),
      store.insert('events', { id: 'a', text: 'dup' }),
      store.insert('events', { id: 'b', text: 'b' }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await store.recent('events')).items.map((d) => d.id)).toEqual(['b', 'a']);
    const changes = await store.changes(0);
    for (let i = 1; i < changes.changes.length; i++)
      expect(changes.changes[i]!.seq).toBe(changes.changes[i - 1]!.seq + 1);
  });

  it("another connection's commit is noticed through data_version and announced to watchers", async () => {
    const { store, path } = await open();
    const { store: other } = await open({}, path);
    let resolveSeen: () => void;
    const seen = new Promise<void>((resolve) => {
      resolveSeen = resolve;
    });
    store.watch(() => resolveSeen());
    const started = performance.now();
    const { seq } = await other.insert('events', { text: 'from elsewhere' });
    await seen;
    // DESIGN §3: within 250 ms; the default poll is 100 ms (generous bound for a loaded CI box).
    expect(performance.now() - started).toBeLessThan(1000);
    expect((await store.changes(seq - 1)).changes.map((c) => c.seq)).toEqual([seq]);
  });

  it('a closed store refuses work with store_closed and close is idempotent', async () => {
    const { store } = await open();
    await store.close();
    await store.close();
    await expectCode(store.insert('events', { text: 'late' }), 'store_closed');
    await expectCode(store.head(), 'store_closed');
  });

  it('collections named at open must be valid', async () => {
    const db = newTestDb();
    cleanups.push(db.remove);
    await expectCode(openSqliteStore({ path: db.path, search: false, collections: ['Nope!'] }), 'invalid_name');
  });
});

describe('group commit failure isolation', () => {
  it('a batch failing half-way inside a shared transaction leaves no partial rows and spares its neighbours', async () => {
    const { store } = await open();
    await store.insert('events', { text: 'keyed' }, { idempotencyKey: 'k' });
    const head = await store.head();
    // The batch's second item conflicts only once its first item is written: a partial write
    // that the fallback (a savepoint per operation) must undo.
    const outcomes = await Promise.allSettled([
      store.insert('events', { text: 'before' }),
      store.insertBatch('events', [
        { doc: { text: 'written first' } },
        { doc: { text: 'other body' }, idempotencyKey: 'k' },
      ]),
      store.insert('events', { text: 'after' }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const texts = (await store.recent('events')).items.map((d) => d.text);
    expect(texts).toEqual(['after', 'before', 'keyed']);
    const feed = await store.changes(head);
    expect(feed.changes.map((c) => c.seq)).toEqual([head + 1, head + 2]);
  });
});

describe('retention compaction', () => {
  it("drops a deleted doc's insert and update entries from the feed table, keeping its delete entry", async () => {
    const { store } = await open();
    const old = await store.insert('agent_tasks', { text: 'old', timestamp: '2020-01-01T00:00:00.000Z' });
    const keep = await store.insert('agent_tasks', { text: 'keep' });
    const [item] = await store.claim('agent_tasks', { agent: 'w' });
    expect(item?.doc.id).toBe(old.id);
    await store.deleteDocs('agent_tasks', { olderThan: '2021-01-01T00:00:00.000Z' });
    const rows = store.database.prepare('SELECT kind, doc_seq FROM changes ORDER BY seq').all() as Array<{
      kind: string;
      doc_seq: number;
    }>;
    expect(rows).toEqual([
      { kind: 'insert', doc_seq: keep.seq },
      { kind: 'delete', doc_seq: old.seq },
    ]);
  });
});
