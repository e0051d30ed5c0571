// SPDX-License-Identifier: GPL-3.0-or-later
// Versioned schema of the main database file. `PRAGMA user_version` records the version; each
// migration runs once, in its own transaction. A file written by a newer DualStore is refused
// rather than misread.

import { DualStoreError } from '@dualstore/core';
import type Database from 'better-sqlite3';

const MIGRATIONS: readonly string[] = [
  // 1: docs, the change feed, derived-field indexes, topics, collections.
  `
  CREATE TABLE collections (
    name            TEXT PRIMARY KEY,
    max_attempts    INTEGER NOT NULL,
    retention_days  INTEGER NOT NULL,
    created_at      TEXT NOT NULL
  ) STRICT;

  -- A doc's rowid is the feed seq of its insertion: recent-by-seq and the feed join are rowid lookups.
  CREATE TABLE docs (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL,
    collection       TEXT NOT NULL,
    text             TEXT NOT NULL,
    timestamp        TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    topic            TEXT,
    source           TEXT,
    correlation_id   TEXT,
    parent_id        TEXT,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    max_attempts     INTEGER NOT NULL,
    claimed_by       TEXT,
    claim_token      TEXT,
    lease_expires_at TEXT,
    available_at     TEXT,
    processed_at     TEXT,
    last_error       TEXT,
    mentions         TEXT NOT NULL,
    tool_calls       TEXT NOT NULL,
    version          INTEGER NOT NULL,
    idempotency_key  TEXT,
    request_hash     TEXT
  ) STRICT;
  CREATE UNIQUE INDEX docs_id ON docs (collection, id);
  CREATE INDEX docs_collection_seq ON docs (collection, seq);
  CREATE UNIQUE INDEX docs_idempotency ON docs (collection, idempotency_key) WHERE idempotency_key IS NOT NULL;
  CREATE INDEX docs_leased ON docs (collection, lease_expires_at) WHERE status = 'processing';
  CREATE INDEX docs_correlation ON docs (collection, correlation_id) WHERE correlation_id IS NOT NULL;
  CREATE INDEX docs_topic ON docs (collection, topic, seq) WHERE topic IS NOT NULL;
  -- Serves claims (oldest pending), recent by status and stats; a separate partial index for
  -- pending docs only cost every insert and status change another index write.
  CREATE INDEX docs_status_seq ON docs (collection, status, seq);

  -- The global change feed. AUTOINCREMENT: a seq is never reused, even after deletes.
  -- state: JSON of the doc's mutable fields right after the change (insert, update).
  CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('insert', 'update', 'delete')),
    collection TEXT NOT NULL,
    doc_seq    INTEGER NOT NULL,
    doc_id     TEXT NOT NULL,
    at         TEXT NOT NULL,
    state      TEXT
  ) STRICT;
  CREATE INDEX changes_collection_seq ON changes (collection, seq);

  CREATE TABLE doc_mentions (
    collection TEXT NOT NULL,
    name       TEXT NOT NULL,
    doc_seq    INTEGER NOT NULL,
    PRIMARY KEY (collection, name, doc_seq)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX doc_mentions_doc ON doc_mentions (doc_seq);

  CREATE TABLE doc_tools (
    collection TEXT NOT NULL,
    name       TEXT NOT NULL,
    doc_seq    INTEGER NOT NULL,
    PRIMARY KEY (collection, name, doc_seq)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX doc_tools_doc ON doc_tools (doc_seq);

  CREATE TABLE topics (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    prompt      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  ) STRICT;

  -- Small key/value facts: feed_floor (see Store.changes).
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  `,
  // 2: scoped access tokens (DESIGN §8). Only the SHA-256 of a secret is stored; the unique index
  // on it is the lookup every authenticated request makes.
  `
  CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    collections TEXT,
    hash        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
  ) STRICT;
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Bring `db` up to SCHEMA_VERSION (tests pass a lower `target` to build an older file). Safe to call from several processes at once: the version is
 * re-read inside an IMMEDIATE transaction, so only one of them applies each step.
 * @throws DualStoreError `schema_too_new` when the file was written by a newer DualStore.
 */
export function migrate(db: Database.Database, target: number = SCHEMA_VERSION): void {
  const readVersion = () => db.pragma('user_version', { simple: true }) as number;
  if (readVersion() > SCHEMA_VERSION) throw tooNew(readVersion());
  const step = db.transaction(() => {
    const current = readVersion();
    if (current > SCHEMA_VERSION) throw tooNew(current);
    for (let version = current; version < target; version++) {
      db.exec(MIGRATIONS[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    }
  });
  step.immediate();
}

function tooNew(version: number): DualStoreError {
  return new DualStoreError(
    'schema_too_new',
    `the database has schema version ${version}, newer than ${SCHEMA_VERSION} which this DualStore knows; upgrade DualStore`,
  );
}
