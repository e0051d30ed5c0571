// SPDX-License-Identifier: GPL-3.0-or-later
// Stream tickets (DESIGN §8): a browser's EventSource cannot send an Authorization header, so it
// trades its bearer token for a short-lived, single-use ticket that goes in the stream URL. A
// leaked URL (history, proxy logs) is then worth one stream opened within a minute, not the
// token. Tickets live in this process's memory only: a ticket is redeemed on the node that
// minted it (behind a balancer, pin `/v1/tickets` and the stream to one node, or mint again).

import { createHash, randomBytes } from 'node:crypto';
import type { Caller } from '../context.js';

/** How long a ticket can be redeemed after it is issued (DESIGN: ≤ 60 s). */
export const TICKET_TTL_MS = 60_000;

/**
 * Unredeemed tickets one client may hold at once. Tickets are cheap to mint, and without a cap an
 * authenticated client could fill memory within a single TTL even with rate limits off.
 */
export const MAX_TICKETS_PER_CLIENT = 100;

const TICKET_PREFIX = 'dstk_';

/** What a ticket stands for: the caller that minted it and, for a scoped token, its hash. */
export interface TicketGrant {
  caller: Caller;
  /** Re-checked on redemption, so revoking the token also voids its outstanding tickets. */
  tokenHash?: string;
}

interface Entry extends TicketGrant {
  expiresAt: number;
}

export type IssueResult = { ticket: string; expiresAt: number } | { retryAfterMs: number };

/**
 * The outstanding tickets of one server. Keys are SHA-256 of the ticket, so the map never holds a
 * usable secret. There is no timer: expired entries are swept whenever a ticket is issued or
 * redeemed, and `clear()` on close drops the rest.
 */
export class TicketBook {
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #maxPerClient: number;
  /** Insertion order is expiry order (one TTL, a clock that does not go back), so sweeps stop early. */
  readonly #entries = new Map<string, Entry>();
  readonly #perClient = new Map<string, number>();

  constructor(now: () => number, ttlMs = TICKET_TTL_MS, maxPerClient = MAX_TICKETS_PER_CLIENT) {
    this.#now = now;
    this.#ttlMs = ttlMs;
    this.#maxPerClient = maxPerClient;
  }

  /** Outstanding (unexpired, unredeemed) tickets. */
  get size(): number {
    this.#sweep();
    return this.#entries.size;
  }

  issue(grant: TicketGrant): IssueResult {
    this.#sweep();
    const key = grant.caller.clientKey;
    if ((this.#perClient.get(key) ?? 0) >= this.#maxPerClient) {
      let oldest = Number.POSITIVE_INFINITY;
      for (const entry of this.#entries.values()) {
        if (entry.caller.clientKey === key) {
          oldest = entry.expiresAt;
          break;
        }
      }
      return { retryAfterMs: Math.max(1, oldest - this.#now()) };
    }
    const ticket = `${TICKET_PREFIX}${randomBytes(32).toString('base64url')}`;
    const expiresAt = this.#now() + this.#ttlMs;
    this.#entries.set(digest(ticket), { ...grant, expiresAt });
    this.#perClient.set(key, (this.#perClient.get(key) ?? 0) + 1);
    return { ticket, expiresAt };
  }

  /** The grant of a valid ticket, which is used up by this call; undefined when unknown, used or expired. */
  redeem(ticket: string): TicketGrant | undefined {
    this.#sweep();
    const key = digest(ticket);
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#delete(key, entry);
    return entry.expiresAt > this.#now() ? entry : undefined;
  }

  clear(): void {
    this.#entries.clear();
    this.#perClient.clear();
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#delete(key, entry);
    }
  }

  #delete(key: string, entry: Entry): void {
    this.#entries.delete(key);
    const count = (this.#perClient.get(entry.caller.clientKey) ?? 1) - 1;
    if (count <= 0) this.#perClient.delete(entry.caller.clientKey);
    else this.#perClient.set(entry.caller.clientKey, count);
  }
}

function digest(ticket: string): string {
  return createHash('sha256').update(ticket, 'utf8').digest('base64url');
}
