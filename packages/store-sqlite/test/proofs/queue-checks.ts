// SPDX-License-Identifier: GPL-3.0-or-later
// Checkers for concurrency.test.ts. Each returns the violations it found as readable strings
// (empty when the property holds), so a failure names the doc, the agents and the versions.

import type { Change, Doc } from '@dualstore/core';
import type { SqliteStore } from '../../src/index.js';
import type { ChildLine } from './child-process.js';

/** The whole feed, read back page by page. */
export async function readFeed(store: SqliteStore): Promise<{ changes: Change[]; head: number }> {
  const head = await store.head();
  const changes: Change[] = [];
  for (let after = 0; after < head; ) {
    const page = await store.changes(after);
    changes.push(...page.changes);
    if (page.next <= after) throw new Error(`changes(${after}) did not advance`);
    after = page.next;
  }
  return { changes, head };
}

/** Nothing was deleted, so the feed must be exactly 1, 2, …, head: no gap, no duplicate, in order. */
export function feedGaps(changes: readonly Change[], head: number): string[] {
  const problems: string[] = [];
  changes.forEach((change, i) => {
    if (change.seq !== i + 1) problems.push(`feed position ${i} holds seq ${change.seq}, expected ${i + 1}`);
  });
  if (changes.length !== head) problems.push(`feed has ${changes.length} entries but head is ${head}`);
  return problems.slice(0, 20);
}

export interface HistoryReport {
  problems: string[];
  /** Claims of a doc whose previous lease had run out while still `processing`. */
  expiredTakeovers: number;
  /** (id, version) of every claim, as `id@version` → agent. */
  claims: Map<string, string>;
}

/**
 * Replay each doc's entries in feed order. A claim (`processing`) may only follow `pending`, or
 * `processing` whose lease had expired when the claim was appended; completion and give-back
 * only follow `processing`; every doc is completed exactly once and stays so.
 */
export function claimHistory(changes: readonly Change[], collection: string): HistoryReport {
  const problems: string[] = [];
  const last = new Map<string, Doc>();
  const completions = new Map<string, number>();
  const claims = new Map<string, string>();
  let expiredTakeovers = 0;
  for (const change of changes) {
    if (change.collection !== collection || change.doc === undefined) continue;
    const doc = change.doc;
    const prev = last.get(doc.id);
    const at = `seq ${change.seq} (${doc.id})`;
    if (change.kind === 'insert') {
      if (prev !== undefined) problems.push(`${at}: a second insert of the same doc`);
      if (doc.status !== 'pending' || doc.version !== 1)
        problems.push(`${at}: inserted as ${doc.status} v${doc.version}`);
      last.set(doc.id, doc);
      continue;
    }
    if (prev === undefined) {
      problems.push(`${at}: an update before the insert`);
      continue;
    }
    if (doc.version !== prev.version + 1) problems.push(`${at}: version ${prev.version} → ${doc.version}`);
    switch (doc.status) {
      case 'processing': {
        claims.set(`${doc.id}@${doc.version}`, doc.claimed_by ?? '');
        if (doc.attempts !== prev.attempts + 1)
          problems.push(`${at}: claim took attempts ${prev.attempts} → ${doc.attempts}`);
        if (prev.status === 'processing') {
          const expires = Date.parse(prev.lease_expires_at ?? '');
          if (!(expires <= Date.parse(change.at))) {
            problems.push(
              `${at}: claimed by ${doc.claimed_by} at ${change.at} while ${prev.claimed_by} held it until ${prev.lease_expires_at}`,
            );
          } else expiredTakeovers++;
        } else if (prev.status !== 'pending') {
          problems.push(`${at}: claimed from ${prev.status}`);
        }
        break;
      }
      case 'completed':
        completions.set(doc.id, (completions.get(doc.id) ?? 0) + 1);
        if (prev.status !== 'processing') problems.push(`${at}: completed from ${prev.status}`);
        else if (doc.claimed_by !== prev.claimed_by)
          problems.push(`${at}: completed as ${doc.claimed_by} but ${prev.claimed_by} held it`);
        break;
      case 'pending':
        if (prev.status !== 'processing') problems.push(`${at}: given back from ${prev.status}`);
        break;
      case 'failed':
        problems.push(`${at}: ended failed (${doc.last_error})`);
        break;
    }
    last.set(doc.id, doc);
  }
  for (const [id, doc] of last) {
    const n = completions.get(id) ?? 0;
    if (n !== 1) problems.push(`${id}: completed ${n} times in the feed`);
    if (doc.status !== 'completed') problems.push(`${id}: ends ${doc.status}`);
  }
  return { problems: problems.slice(0, 30), expiredTakeovers, claims };
}

export interface LogReport {
  problems: string[];
  /** Claims taken while an earlier holder had not finished (allowed only after its lease ran out). */
  takeovers: number;
  /** Actions refused with lease_lost / already_finished. */
  lost: number;
}

/**
 * From the workers' own logs: per doc, order the claims by the version they produced and require
 * each holder to have finished (its complete/release/fail carrying a lower version) before the
 * next claim — unless its lease had run out by the time of the next claim, in which case the
 * stale holder must then have been refused (fencing). Tokens are unique; each doc is completed
 * by exactly one worker.
 */
export function claimIntervals(lines: readonly ChildLine[]): LogReport {
  const problems: string[] = [];
  const claimsByDoc = new Map<string, ChildLine[]>();
  const ends = new Map<string, ChildLine>();
  const tokens = new Set<string>();
  const completions = new Map<string, number>();
  let lost = 0;
  for (const line of lines) {
    const token = line.token as string;
    if (line.ev === 'claim') {
      if (tokens.has(token)) problems.push(`token ${token} handed out twice`);
      tokens.add(token);
      const list = claimsByDoc.get(line.id as string) ?? [];
      list.push(line);
      claimsByDoc.set(line.id as string, list);
    } else if (['complete', 'release', 'fail', 'lost'].includes(line.ev)) {
      if (ends.has(token)) problems.push(`token ${token} finished twice`);
      ends.set(token, line);
      if (line.ev === 'lost') lost++;
      if (line.ev === 'complete') completions.set(line.id as string, (completions.get(line.id as string) ?? 0) + 1);
    }
  }
  let takeovers = 0;
  for (const [id, list] of claimsByDoc) {
    list.sort((a, b) => (a.version as number) - (b.version as number));
    list.forEach((a, i) => {
      const end = ends.get(a.token as string);
      const b = list[i + 1];
      const who = `${id}: ${a.agent} claimed v${a.version}`;
      if (end === undefined) problems.push(`${who} and never reported an outcome`);
      if (b === undefined) {
        if (end?.ev === 'lost') problems.push(`${who}; its ${end.action} was refused though nobody claimed it again`);
        return;
      }
      if (b.version === a.version) problems.push(`${who}; ${b.agent} claimed the same version`);
      if (end !== undefined && end.ev !== 'lost') {
        if ((end.version as number) > (b.version as number)) {
          problems.push(`${who}; its ${end.ev} (v${end.version}) succeeded after ${b.agent} claimed v${b.version}`);
        }
        return;
      }
      // a never finished: b's claim is a takeover, allowed only once a's lease had run out.
      takeovers++;
      const bClaimedAt = Date.parse(b.expiresAt as string) - (b.leaseMs as number);
      if (bClaimedAt < Date.parse(a.expiresAt as string)) {
        problems.push(
          `${who} (lease until ${a.expiresAt}); ${b.agent} claimed v${b.version} at ${new Date(bClaimedAt).toISOString()}`,
        );
      }
    });
  }
  for (const id of claimsByDoc.keys()) {
    const n = completions.get(id) ?? 0;
    if (n !== 1) problems.push(`${id}: completed ${n} times by the workers`);
  }
  return { problems: problems.slice(0, 30), takeovers, lost };
}

/** Every claim a worker reported is a claim entry of the feed, by the same agent, and vice versa. */
export function logsMatchFeed(lines: readonly ChildLine[], feedClaims: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const logged = new Map<string, string>();
  for (const line of lines) if (line.ev === 'claim') logged.set(`${line.id}@${line.version}`, line.agent as string);
  for (const [key, agent] of logged) {
    if (feedClaims.get(key) !== agent)
      problems.push(`${agent} reported claim ${key}; the feed has ${feedClaims.get(key)}`);
  }
  for (const [key, agent] of feedClaims) {
    if (!logged.has(key)) problems.push(`the feed has claim ${key} by ${agent} that no worker reported`);
  }
  return problems.slice(0, 20);
}
