// SPDX-License-Identifier: GPL-3.0-or-later
// A work-queue consumer on top of claim / extend / complete / fail / release. One claim loop
// long-polls for as many docs as there are free slots, each claimed doc runs in its own slot
// with a lease heartbeat, and the outcome goes back with the claim token (the fencing token), so
// a worker whose lease ran out can never overwrite newer work. Delivery is at-least-once.

import type { Claim, ClaimedItem, Doc } from '@dualstore/core';
import { backoffDelay, sleep } from './backoff.js';
import type { DualStoreHttp } from './client.js';
import { DualStoreError, isDualStoreError, isTransient } from './errors.js';
import type { FilterInput } from './stream.js';

/** What a handler gets for one claimed doc. */
export interface WorkItem {
  doc: Doc;
  claim: Claim;
  /** The topic's system prompt, when the doc's topic has one. */
  prompt?: string;
  /** Aborted when the lease is lost (someone else may now hold the doc) or on `stop({ release: true })`. */
  signal: AbortSignal;
}

/** Resolve to complete the doc; throw to fail it (the error's message becomes `last_error`). */
export type WorkerHandler = (item: WorkItem) => unknown;

/** Options of `client.worker()`. */
export interface WorkerOptions {
  /** The worker's name, shown as `claimed_by`. */
  agent: string;
  /** Docs processed at once. Defaults to 1. */
  concurrency?: number;
  /** The lease per claim, renewed every third of it while the handler runs. Defaults to 60 000. */
  leaseMs?: number;
  /** Only docs with this topic. */
  topic?: string;
  /** Only docs matching this filter. */
  filter?: FilterInput;
  /** How long one claim long-polls (≤ 30 000). Defaults to 25 000. */
  waitMs?: number;
  /** Aborting it is `stop()`: no more claims; in-flight handlers finish. */
  signal?: AbortSignal;
  /**
   * Told about failures the worker carries on after: transient claim errors (it backs off), a
   * lost lease, a failed complete. Fatal errors (401, 403, 404, 400) end `done` instead.
   */
  onError?: (error: DualStoreError) => void;
}

/** Counters of a worker, live. */
export interface WorkerStats {
  claimed: number;
  completed: number;
  /** Handlers that threw (the doc was failed back to the queue). */
  failed: number;
  /** Given back by `stop({ release: true })`. */
  released: number;
  /** Leases lost before the outcome could be reported. */
  lost: number;
}

/** A running worker. */
export interface WorkerHandle {
  /**
   * Stop claiming and resolve once in-flight work is finished. `release: true` (or a second
   * call with it) aborts the handlers' signals and releases their docs at once; `timeoutMs`
   * does that after a grace period. Resolves like `done`.
   */
  stop(options?: { release?: boolean; timeoutMs?: number }): Promise<void>;
  /** Settles when the worker has stopped; rejects with the error that stopped it, if one did. */
  readonly done: Promise<void>;
  readonly stats: Readonly<WorkerStats>;
}

interface Job {
  item: ClaimedItem;
  controller: AbortController;
  /** The outcome must not be reported: released, or the lease was lost. */
  abandoned: boolean;
  finished: Promise<void>;
  settle: () => void;
}

const CLAIM_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** Attempts at reporting an outcome (complete / fail / release) through transient errors. */
const REPORT_ATTEMPTS = 5;

class WorkerLoop implements WorkerHandle {
  readonly stats: WorkerStats = { claimed: 0, completed: 0, failed: 0, released: 0, lost: 0 };
  readonly done: Promise<void>;
  readonly #client: DualStoreHttp;
  readonly #collection: string;
  readonly #handler: WorkerHandler;
  readonly #options: WorkerOptions;
  readonly #concurrency: number;
  readonly #leaseMs: number;
  /** Aborted by stop: ends the long-poll and any backoff sleep at once. */
  readonly #claiming = new AbortController();
  readonly #jobs = new Map<string, Job>();
  #slotFreed: (() => void) | undefined;
  #stopping = false;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #onAbort = () => void this.stop().catch(() => {});

  constructor(client: DualStoreHttp, collection: string, handler: WorkerHandler, options: WorkerOptions) {
    this.#client = client;
    this.#collection = collection;
    this.#handler = handler;
    this.#options = options;
    this.#concurrency = options.concurrency ?? 1;
    this.#leaseMs = options.leaseMs ?? 60_000;
    options.signal?.addEventListener('abort', this.#onAbort);
    this.done = this.#run().finally(() => {
      clearTimeout(this.#graceTimer);
      options.signal?.removeEventListener('abort', this.#onAbort);
    });
    if (options.signal?.aborted) this.#onAbort();
  }

  stop(options: { release?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.#stopping = true;
    this.#claiming.abort();
    this.#slotFreed?.();
    if (options.release === true) this.#releaseAll();
    else if (options.timeoutMs !== undefined && this.#graceTimer === undefined) {
      this.#graceTimer = setTimeout(() => this.#releaseAll(), options.timeoutMs);
    }
    return this.done;
  }

  async #run(): Promise<void> {
    const o = this.#options;
    const signal = this.#claiming.signal;
    let attempt = 0;
    let fatal: unknown;
    while (!this.#stopping) {
      const free = this.#concurrency - this.#jobs.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
        });
        this.#slotFreed = undefined;
        continue;
      }
      let items: ClaimedItem[];
      try {
        ({ items } = await this.#client.claim(this.#collection, {
          agent: o.agent,
          topic: o.topic,
          filter: o.filter,
          leaseMs: this.#leaseMs,
          waitMs: o.waitMs ?? 25_000,
          limit: free,
          signal,
        }));
        attempt = 0;
      } catch (error) {
        if (this.#stopping) break;
        if (!isTransient(error)) {
          fatal = error;
          break;
        }
        const failure = error as DualStoreError;
        this.#report(failure);
        await sleep(failure.retryAfterMs ?? backoffDelay(attempt++, CLAIM_BACKOFF_MS, MAX_BACKOFF_MS), signal);
        continue;
      }
      for (const item of items) this.#start(item);
      // Claimed while stop() ran: the handlers have not started, so give the docs straight back.
      if (this.#stopping) this.#releaseAll();
    }
    this.#stopping = true;
    await Promise.all([...this.#jobs.values()].map((job) => job.finished));
    if (fatal !== undefined) throw fatal;
  }

  #start(item: ClaimedItem): void {
    this.stats.claimed++;
    let settle!: () => void;
    const finished = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const job: Job = { item, controller: new AbortController(), abandoned: false, finished, settle };
    this.#jobs.set(item.doc.id, job);
    void finished.then(() => {
      this.#jobs.delete(item.doc.id);
      this.#slotFreed?.();
    });
    if (this.#stopping) return;
    void this.#process(job).finally(settle);
  }

  async #process(job: Job): Promise<void> {
    const { doc, claim, prompt } = job.item;
    const client = this.#client;
    let extending = false;
    // A third of the lease: two heartbeats can fail before the lease runs out.
    const heartbeat = setInterval(
      () => {
        if (extending || job.abandoned) return;
        extending = true;
        client
          .extend(this.#collection, doc.id, claim.token, this.#leaseMs)
          .catch((error) => this.#onReportError(job, error))
          .finally(() => {
            extending = false;
          });
      },
      Math.max(1, Math.floor(this.#leaseMs / 3)),
    );
    let failure: unknown;
    let ok = true;
    try {
      const item: WorkItem = { doc, claim, signal: job.controller.signal };
      if (prompt !== undefined) item.prompt = prompt;
      await this.#handler(item);
    } catch (error) {
      ok = false;
      failure = error;
    } finally {
      clearInterval(heartbeat);
    }
    if (job.abandoned) return;
    try {
      if (ok) {
        await this.#retry(() => client.complete(this.#collection, doc.id, claim.token));
        this.stats.completed++;
      } else {
        const error = failure instanceof Error ? failure.message : String(failure);
        await this.#retry(() => client.fail(this.#collection, doc.id, { token: claim.token, error }));
        this.stats.failed++;
      }
    } catch (error) {
      this.#onReportError(job, error);
    }
  }

  /** A lost lease aborts the handler (its work may now be done twice); other errors are reported. */
  #onReportError(job: Job, error: unknown): void {
    if (isDualStoreError(error) && (error.code === 'lease_lost' || error.code === 'already_finished')) {
      if (!job.abandoned) this.stats.lost++;
      job.abandoned = true;
      job.controller.abort(error);
      return;
    }
    this.#report(error);
  }

  #releaseAll(): void {
    for (const job of this.#jobs.values()) {
      if (job.abandoned) continue;
      job.abandoned = true;
      job.controller.abort(new DualStoreError({ status: 0, code: 'handler_error', detail: 'the worker is stopping' }));
      const { doc, claim } = job.item;
      this.#retry(() => this.#client.release(this.#collection, doc.id, claim.token))
        .then(
          () => this.stats.released++,
          (error) => this.#onReportError(job, error),
        )
        // A handler that ignores its signal must not hold up the stop.
        .finally(job.settle);
    }
  }

  /** Report an outcome through transient failures (a restarting server), with a short backoff. */
  async #retry<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (attempt + 1 >= REPORT_ATTEMPTS || !isTransient(error)) throw error;
        this.#report(error);
        await sleep(backoffDelay(attempt, 200, 5000), new AbortController().signal);
      }
    }
  }

  #report(error: unknown): void {
    const failure = isDualStoreError(error)
      ? error
      : new DualStoreError({ status: 0, code: 'handler_error', detail: 'the worker failed', cause: error });
    try {
      this.#options.onError?.(failure);
    } catch {
      // Nowhere left to report to.
    }
  }
}

/** @internal Used by the client's `worker`. */
export function runWorker(
  client: DualStoreHttp,
  collection: string,
  handler: WorkerHandler,
  options: WorkerOptions,
): WorkerHandle {
  return new WorkerLoop(client, collection, handler, options);
}
