// SPDX-License-Identifier: GPL-3.0-or-later
// A short human line per delivery, stored as the doc's `text` so full-text search and a
// dashboard's list find and show it: "push to main by alice: 3 commits (octo/app)". Best effort
// by design: an unknown event or shape still gets a line (its event name, action and repository
// or route), never an error — a summary must not cost a delivery.

import type { WebhookVerifierName } from './routes-file.js';

/** Longest summary kept; the payload itself is in metadata. */
export const MAX_SUMMARY_CHARS = 300;

type Json = Record<string, unknown>;

function obj(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

/** A string (or number) at a dotted path, or undefined. */
function str(value: unknown, path: string): string | undefined {
  let node: unknown = value;
  for (const key of path.split('.')) node = obj(node)?.[key];
  if (typeof node === 'number' && Number.isFinite(node)) return String(node);
  return typeof node === 'string' && node.length > 0 ? node : undefined;
}

/** The array at a dotted path, or an empty one. */
function list(value: unknown, path: string): unknown[] {
  let node: unknown = value;
  for (const key of path.split('.')) node = obj(node)?.[key];
  return Array.isArray(node) ? node : [];
}

function oneLine(text: string, max = MAX_SUMMARY_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function join(...parts: (string | undefined | false)[]): string {
  return parts.filter((part): part is string => typeof part === 'string' && part.length > 0).join(' ');
}

function refName(ref: string | undefined): string | undefined {
  if (ref === undefined) return undefined;
  if (ref.startsWith('refs/heads/')) return ref.slice('refs/heads/'.length);
  if (ref.startsWith('refs/tags/')) return `tag ${ref.slice('refs/tags/'.length)}`;
  return ref;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function github(event: string | undefined, p: unknown): string {
  const repo = str(p, 'repository.full_name');
  const who = str(p, 'sender.login');
  const action = str(p, 'action');
  const tail = repo === undefined ? '' : ` (${repo})`;
  switch (event) {
    case 'push': {
      const commits = list(p, 'commits').length;
      const by = str(p, 'pusher.name') ?? who;
      return `${join('push to', refName(str(p, 'ref')), by && `by ${by}`)}: ${plural(commits, 'commit')}${tail}`;
    }
    case 'pull_request':
      return `${join('pull request', str(p, 'number') && `#${str(p, 'number')}`, action, who && `by ${who}`)}: ${str(p, 'pull_request.title') ?? ''}${tail}`;
    case 'issues':
      return `${join('issue', str(p, 'issue.number') && `#${str(p, 'issue.number')}`, action, who && `by ${who}`)}: ${str(p, 'issue.title') ?? ''}${tail}`;
    case 'issue_comment':
      return `${join('comment', action, 'on', str(p, 'issue.number') && `#${str(p, 'issue.number')}`, who && `by ${who}`)}: ${str(p, 'comment.body') ?? ''}${tail}`;
    case 'ping':
      return `ping${str(p, 'zen') ? `: ${str(p, 'zen')}` : ''}${tail}`;
    case 'release':
      return `${join('release', str(p, 'release.tag_name'), action, who && `by ${who}`)}${tail}`;
    case 'workflow_run':
      return `${join('workflow', str(p, 'workflow_run.name'), action, str(p, 'workflow_run.conclusion') && `: ${str(p, 'workflow_run.conclusion')}`)}${tail}`;
    default:
      return `${join(event ?? 'github event', action, who && `by ${who}`)}${tail}`;
  }
}

function bitbucket(event: string | undefined, p: unknown): string {
  const repo = str(p, 'repository.full_name');
  const who = str(p, 'actor.display_name') ?? str(p, 'actor.nickname');
  const tail = repo === undefined ? '' : ` (${repo})`;
  if (event === 'repo:push') {
    const changes = list(p, 'push.changes');
    const branch = str(changes[0], 'new.name') ?? str(changes[0], 'old.name');
    const commits = changes.reduce<number>((n, change) => n + list(change, 'commits').length, 0);
    return `${join('push to', branch, who && `by ${who}`)}: ${plural(commits, 'commit')}${tail}`;
  }
  if (event?.startsWith('pullrequest:')) {
    const id = str(p, 'pullrequest.id');
    return `${join('pull request', id && `#${id}`, event.slice('pullrequest:'.length), who && `by ${who}`)}: ${str(p, 'pullrequest.title') ?? ''}${tail}`;
  }
  return `${join(event ?? 'bitbucket event', who && `by ${who}`)}${tail}`;
}

function typed(event: string | undefined, p: unknown): string {
  // Stripe events and Standard Webhooks payloads both carry `type` and a `data` object.
  const object = obj(obj(p)?.data)?.object ?? obj(p)?.data;
  const amount = str(object, 'amount');
  const currency = str(object, 'currency');
  const money =
    amount !== undefined && /^\d+$/.test(amount) && currency !== undefined
      ? `${(Number(amount) / 100).toFixed(2)} ${currency}`
      : undefined;
  const id = str(p, 'id') ?? str(object, 'id');
  return join(event ?? 'event', money && `: ${money}`, id && `(${id})`);
}

function generic(route: string, event: string | undefined, p: unknown): string {
  // Bugsnag's error and comment notifications.
  const errorClass = str(p, 'error.exceptionClass');
  if (errorClass !== undefined || str(p, 'trigger.type') !== undefined) {
    return join(
      str(p, 'trigger.message') ?? 'error',
      str(p, 'project.name') && `in ${str(p, 'project.name')}`,
      errorClass && `: ${errorClass}`,
      str(p, 'error.message'),
    );
  }
  const what = event ?? str(p, 'type') ?? str(p, 'event') ?? str(p, 'action');
  const says = str(p, 'title') ?? str(p, 'message') ?? str(p, 'text') ?? str(p, 'summary');
  return `${join(`${route} webhook`, what)}${says === undefined ? '' : `: ${says}`}`;
}

/**
 * The doc text for a delivery: one line of at most 300 characters.
 *
 * @example
 * summarize({ route: 'github', verify: 'github', event: 'push', payload }) // "push to main by alice: 3 commits (octo/app)"
 */
export function summarize(input: {
  route: string;
  verify: WebhookVerifierName;
  event: string | undefined;
  payload: unknown;
}): string {
  const { route, verify, event, payload } = input;
  // The route's name says which provider it is when the verifier does not (an unsigned default route).
  const kind = verify === 'none' || verify === 'secret-header' ? route : verify;
  let text: string;
  if (kind === 'github') text = github(event, payload);
  else if (kind === 'bitbucket') text = bitbucket(event, payload);
  else if (kind === 'stripe' || kind === 'payment' || kind === 'standard')
    text = typed(event ?? str(payload, 'type'), payload);
  else text = generic(route, event, payload);
  return oneLine(text.replace(/ :/g, ':').replace(/: $/, ''));
}
