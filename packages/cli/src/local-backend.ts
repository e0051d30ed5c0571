// SPDX-License-Identifier: GPL-3.0-or-later
// Local mode: the SQLite file opened directly, no server needed. Safe beside a running server:
// the file is in WAL mode, writes take SQLite's lock, and the server notices this process's
// commits within 250 ms (DESIGN §3). Each method mirrors its HTTP route (validation order, 404s,
// the answer's shape), so a command prints the same JSON as in remote mode.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  type ChangesQuery,
  checkCollectionName,
  type DocSelector,
  DualStoreError,
  parseDuration,
  parseFilter,
  type Store,
  toIso,
} from '@dualstore/core';
import { openSqliteStore } from '@dualstore/store-sqlite';
import type { Backend, Selector, TailRequest } from './backend.js';
import { CliError } from './cli-error.js';

/** The earliest time with a four-digit ISO year: a huge `--older-than` clamps here, as on the server. */
const EARLIEST_ISO_MS = Date.parse('0000-01-01T00:00:00.000Z');
/** Changes read per page while following the feed (the store's maximum). */
const TAIL_PAGE = 1000;

export interface LocalBackendOptions {
  /** The SQLite file. */
  path: string;
  /** Start the search index workers: only `search` needs them, and they cost start-up time. */
  search: boolean;
  /** Created on open when missing, as `dualstore serve` does. */
  collections: readonly string[];
}

/**
 * Open the store for one command.
 * @throws CliError `unavailable` when the file cannot be opened (a directory, no permission).
 */
export async function openLocalBackend(options: LocalBackendOptions): Promise<Backend> {
  let store: Store;
  try {
    // The default file lives under the user's data directory, which a fresh machine may lack.
    mkdirSync(dirname(options.path), { recursive: true });
    store = await openSqliteStore({
      path: options.path,
      collections: options.collections,
      search: options.search,
    });
  } catch (error) {
    if (error instanceof DualStoreError) throw error;
    throw new CliError(
      'unavailable',
      `cannot open the database ${options.path}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return new LocalBackend(store);
}

function selector(request: Selector): DocSelector {
  const result: DocSelector = {};
  if (request.filter !== undefined) result.filter = parseFilter(request.filter);
  if (request.topic !== undefined) result.topic = request.topic;
  if (request.status !== undefined) result.status = request.status;
  if (request.mention !== undefined) result.mention = request.mention;
  if (request.tool !== undefined) result.tool = request.tool;
  return result;
}

class LocalBackend implements Backend {
  readonly mode = 'local';
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Like the server's `/v1/:c…` routes: a malformed name is `invalid_name`, an unknown one 404. */
  async #collection(name: string): Promise<string> {
    checkCollectionName(name);
    if ((await this.#store.getCollection(name)) === undefined) {
      throw new DualStoreError('collection_not_found', `collection "${name}" does not exist`);
    }
    return name;
  }

  listCollections() {
    return this.#store.listCollections();
  }

  async putCollection(name: string, input: Parameters<Store['putCollection']>[1]) {
    checkCollectionName(name);
    return (await this.#store.putCollection(name, input)).collection;
  }

  async insert(collection: string, doc: Parameters<Store['insert']>[1], idempotencyKey?: string) {
    const result = await this.#store.insert(
      await this.#collection(collection),
      doc,
      idempotencyKey === undefined ? {} : { idempotencyKey },
    );
    return { id: result.id, seq: result.seq };
  }

  async get(collection: string, id: string) {
    const doc = await this.#store.get(await this.#collection(collection), id);
    if (doc === undefined) throw new DualStoreError('not_found', `no doc "${id.slice(0, 128)}" in "${collection}"`);
    return doc;
  }

  async recent(collection: string, request: Parameters<Backend['recent']>[1]) {
    const c = await this.#collection(collection);
    return this.#store.recent(c, {
      ...selector(request),
      ...(request.limit === undefined ? {} : { limit: request.limit }),
      ...(request.before === undefined ? {} : { before: request.before }),
    });
  }

  async search(collection: string, request: Parameters<Backend['search']>[1]) {
    const c = await this.#collection(collection);
    return this.#store.search(c, {
      q: request.q,
      ...(request.k === undefined ? {} : { k: request.k }),
      ...(request.filter === undefined ? {} : { filter: parseFilter(request.filter) }),
      ...(request.mode === undefined ? {} : { mode: request.mode }),
      ...(request.order === undefined ? {} : { order: request.order }),
      ...(request.waitFor === undefined ? {} : { waitFor: request.waitFor }),
    });
  }

  async head(collection: string) {
    await this.#collection(collection);
    return this.#store.head();
  }

  async thread(collection: string, id: string) {
    return { items: await this.#store.thread(await this.#collection(collection), id) };
  }

  async claim(collection: string, request: Parameters<Backend['claim']>[1]) {
    const c = await this.#collection(collection);
    const items = await this.#store.claim(c, {
      agent: request.agent,
      ...(request.topic === undefined ? {} : { topic: request.topic }),
      ...(request.filter === undefined ? {} : { filter: parseFilter(request.filter) }),
      ...(request.leaseMs === undefined ? {} : { leaseMs: request.leaseMs }),
      ...(request.limit === undefined ? {} : { limit: request.limit }),
      ...(request.waitMs === undefined ? {} : { waitMs: request.waitMs }),
    });
    return { items };
  }

  async complete(collection: string, id: string, token: string) {
    return this.#store.complete(await this.#collection(collection), id, token);
  }

  async fail(collection: string, id: string, request: Parameters<Backend['fail']>[2]) {
    return this.#store.fail(await this.#collection(collection), id, request);
  }

  async extend(collection: string, id: string, token: string, leaseMs: number) {
    return this.#store.extend(await this.#collection(collection), id, token, leaseMs);
  }

  async release(collection: string, id: string, token: string) {
    return this.#store.release(await this.#collection(collection), id, token);
  }

  async reply(collection: string, id: string, input: Parameters<Store['reply']>[2]) {
    return (await this.#store.reply(await this.#collection(collection), id, input)).reply;
  }

  listTopics() {
    return this.#store.listTopics();
  }

  async putTopic(name: string, input: Parameters<Store['putTopic']>[1]) {
    return (await this.#store.putTopic(name, input)).topic;
  }

  async deleteTopic(name: string) {
    if (!(await this.#store.deleteTopic(name))) throw new DualStoreError('not_found', `no topic "${name}"`);
  }

  async stats(collection: string) {
    return this.#store.stats(await this.#collection(collection));
  }

  async deleteDocs(collection: string, request: Parameters<Backend['deleteDocs']>[1]) {
    const c = await this.#collection(collection);
    return this.#store.deleteDocs(c, {
      ...(request.status === undefined ? {} : { status: request.status }),
      ...(request.olderThan === undefined ? {} : { olderThan: olderThanIso(request.olderThan) }),
    });
  }

  /**
   * Follow the feed as the SSE route does: catch up in bounded pages, then wait for "the feed may
   * have grown" — the store's own writes, or another process's commits, which it polls for with
   * `PRAGMA data_version` — and read again. No read transaction is held while waiting.
   */
  async tail(request: TailRequest): Promise<void> {
    for (const name of request.collections) await this.#collection(name);
    const query: ChangesQuery = { ...selector(request), collections: request.collections, limit: TAIL_PAGE };
    let cursor = await this.#start(request.since);
    const { signal } = request;
    while (!signal.aborted) {
      // Subscribe before reading, so a commit between the read and the wait is not missed.
      const grown = this.#nextChange(signal);
      const page = await this.#store.changes(cursor, query);
      if (cursor < page.floor) {
        request.onEvent({ event: 'reset', requested: cursor, since: page.floor });
        cursor = page.floor;
        grown.cancel();
        continue;
      }
      for (const change of page.changes) {
        if (signal.aborted) break;
        if (change.kind === 'delete' && change.deleted !== undefined) {
          request.onEvent({ event: 'delete', seq: change.seq, deleted: change.deleted });
        } else if (change.doc !== undefined) {
          request.onEvent({ event: change.kind === 'insert' ? 'insert' : 'update', seq: change.seq, doc: change.doc });
        }
      }
      const moved = page.next > cursor;
      cursor = page.next;
      if (moved) {
        grown.cancel();
        continue;
      }
      await grown.promise;
    }
  }

  async #start(since: number | string | undefined): Promise<number> {
    if (since === undefined) return this.#store.head();
    if (typeof since === 'number') return Math.min(since, await this.#store.head());
    return this.#store.seqBefore(since);
  }

  #nextChange(signal: AbortSignal): { promise: Promise<void>; cancel(): void } {
    let finish = () => {};
    const promise = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const unwatch = this.#store.watch(() => done());
    const done = () => {
      unwatch();
      signal.removeEventListener('abort', done);
      finish();
    };
    signal.addEventListener('abort', done, { once: true });
    return { promise, cancel: done };
  }

  close() {
    return this.#store.close();
  }
}

/** `30d` → the ISO time 30 days ago; anything else goes to the store as an ISO time (it says `bad_retention`). */
function olderThanIso(text: string): string {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    return text;
  }
  return toIso(Math.max(Date.now() - ms, EARLIEST_ISO_MS));
}
