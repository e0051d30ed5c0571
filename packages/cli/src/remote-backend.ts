// SPDX-License-Identifier: GPL-3.0-or-later
// Remote mode: a DualStore server through @dualstore/sse-client. The client already answers in
// the API's wire shapes and throws errors carrying the API's `code`, so this file only maps
// method names; `tail` rides the client's resumable subscription.

import { createClient, type DualStoreHttp, isDualStoreError } from '@dualstore/sse-client';
import type { Backend, TailRequest } from './backend.js';

export interface RemoteBackendOptions {
  /** The server, e.g. `http://127.0.0.1:4261`. */
  url: string;
  /** A bearer token; none for an open loopback server. */
  token?: string;
}

/** A backend talking to a server. Creating it sends nothing. */
export function openRemoteBackend(options: RemoteBackendOptions): Backend {
  return new RemoteBackend(
    createClient({ baseUrl: options.url, ...(options.token === undefined ? {} : { token: options.token }) }),
  );
}

class RemoteBackend implements Backend {
  readonly mode = 'remote';
  readonly #client: DualStoreHttp;

  constructor(client: DualStoreHttp) {
    this.#client = client;
  }

  listCollections() {
    return this.#client.listCollections();
  }

  putCollection(name: string, input: Parameters<Backend['putCollection']>[1]) {
    return this.#client.putCollection(name, input);
  }

  insert(collection: string, doc: Parameters<Backend['insert']>[1], idempotencyKey?: string) {
    return this.#client.insert(collection, doc, idempotencyKey === undefined ? {} : { idempotencyKey });
  }

  get(collection: string, id: string) {
    return this.#client.get(collection, id);
  }

  recent(collection: string, request: Parameters<Backend['recent']>[1]) {
    return this.#client.recent(collection, request);
  }

  search(collection: string, request: Parameters<Backend['search']>[1]) {
    const { q, ...options } = request;
    return this.#client.search(collection, q, options);
  }

  async head(collection: string) {
    return (await this.#client.recent(collection, { limit: 1 })).cursor;
  }

  thread(collection: string, id: string) {
    return this.#client.thread(collection, id);
  }

  claim(collection: string, request: Parameters<Backend['claim']>[1]) {
    return this.#client.claim(collection, request);
  }

  complete(collection: string, id: string, token: string) {
    return this.#client.complete(collection, id, token);
  }

  fail(collection: string, id: string, request: Parameters<Backend['fail']>[2]) {
    return this.#client.fail(collection, id, request);
  }

  extend(collection: string, id: string, token: string, leaseMs: number) {
    return this.#client.extend(collection, id, token, leaseMs);
  }

  release(collection: string, id: string, token: string) {
    return this.#client.release(collection, id, token);
  }

  reply(collection: string, id: string, input: Parameters<Backend['reply']>[2]) {
    return this.#client.reply(collection, id, input);
  }

  listTopics() {
    return this.#client.topics.list();
  }

  putTopic(name: string, input: Parameters<Backend['putTopic']>[1]) {
    return this.#client.topics.put(name, input);
  }

  deleteTopic(name: string) {
    return this.#client.topics.delete(name);
  }

  stats(collection: string) {
    return this.#client.stats(collection);
  }

  deleteDocs(collection: string, request: Parameters<Backend['deleteDocs']>[1]) {
    return this.#client.deleteDocs(collection, request);
  }

  /**
   * The client reconnects by itself on transient failures (and resumes exactly); a failure it
   * will not retry (401, 404, a bad filter), or any failure before the first connection, ends
   * the tail with that error.
   */
  tail(request: TailRequest): Promise<void> {
    const { collections, since, signal, onEvent, filter, topic, status, mention, tool } = request;
    let opened = false;
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const subscription = this.#client.subscribe(collections, {
        ...(since === undefined ? {} : { since }),
        ...(filter === undefined ? {} : { filter }),
        ...(topic === undefined ? {} : { topic }),
        ...(status === undefined ? {} : { status }),
        ...(mention === undefined ? {} : { mention }),
        ...(tool === undefined ? {} : { tool }),
        signal,
        onInsert: (doc, seq) => onEvent({ event: 'insert', seq, doc }),
        onUpdate: (doc, seq) => onEvent({ event: 'update', seq, doc }),
        onDelete: (deleted, seq) => onEvent({ event: 'delete', seq, deleted }),
        onReset: (reset) => onEvent({ event: 'reset', requested: reset.requested, since: reset.since }),
        onOpen: () => {
          opened = true;
        },
        onError: (error, info) => {
          // Once the stream has been up, a drop is retried (with resume, nothing lost), like
          // `tail -f` surviving a server restart. A first connection that fails ends the command
          // instead, so a wrong --url is an error (exit 69), not a silent hang.
          if (info.willRetry && (opened || error.code === 'handler_error')) return;
          subscription.close();
          signal.removeEventListener('abort', stop);
          reject(isDualStoreError(error) ? error : new Error(String(error)));
        },
      });
      const stop = () => {
        subscription.close();
        resolve();
      };
      signal.addEventListener('abort', stop, { once: true });
    });
  }

  async close() {}
}
