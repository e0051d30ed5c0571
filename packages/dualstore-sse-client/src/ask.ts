// SPDX-License-Identifier: GPL-3.0-or-later
// Durable request/reply: the request is a doc in the store (it survives restarts and waits for a
// worker), and the answer arrives on a stream, not by polling. The stream starts at the
// request's own insert seq and is filtered on `parent_id` by the server, so a reply written at
// any moment after the insert — even before the stream connects — is delivered.

import type { Doc, DocInput } from '@dualstore/core';
import type { DualStoreHttp } from './client.js';
import { DualStoreError } from './errors.js';
import type { StreamAuth, Subscription } from './stream.js';

/** Options of `client.ask()`. */
export interface AskOptions {
  /** Reject with `timeout` after this many ms (counted from the call). Defaults to 30 000. */
  timeoutMs?: number;
  /** Aborts the wait (the request doc stays in the store). */
  signal?: AbortSignal;
  /** Makes the insert idempotent: asking again with the same key waits for the same request. */
  idempotencyKey?: string;
  /** How the reply stream authenticates; see `SubscribeOptions.auth`. */
  auth?: StreamAuth;
}

/** @internal Used by the client's `ask`. */
export function askReply(client: DualStoreHttp, collection: string, doc: DocInput, options: AskOptions): Promise<Doc> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const outer = options.signal;
  const controller = new AbortController();
  return new Promise<Doc>((resolve, reject) => {
    let subscription: Subscription | undefined;
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
      controller.abort();
      subscription?.close();
      settle();
    };
    const onAbort = () => finish(() => reject(outer?.reason));
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new DualStoreError({ status: 0, code: 'timeout', detail: `no reply within ${timeoutMs} ms` })),
        ),
      timeoutMs,
    );
    if (outer?.aborted) return onAbort();
    outer?.addEventListener('abort', onAbort);
    client
      .insert(collection, doc, { signal: controller.signal, idempotencyKey: options.idempotencyKey })
      .then(({ id, seq }) => {
        if (controller.signal.aborted) return;
        subscription = client.subscribe(collection, {
          since: seq,
          filter: { parent_id: id },
          signal: controller.signal,
          auth: options.auth,
          onInsert: (reply) => {
            if (reply.parent_id === id) finish(() => resolve(reply));
          },
          onError: (error, info) => {
            if (!info.willRetry) finish(() => reject(error));
          },
        });
      })
      .catch((error: unknown) => finish(() => reject(error)));
  });
}
