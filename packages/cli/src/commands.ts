// SPDX-License-Identifier: GPL-3.0-or-later
// Every agent-facing command, written once against the Backend interface: flags are checked
// first (a usage error touches no file and no network), then the backend is opened — the SQLite
// file (local mode) or a server (remote mode) — and the answer is printed in the API's shape.
// Loaded lazily by run.ts; the backends themselves load lazily from here, so a `push` loads the
// store but never the client, and remote mode never loads the store or zod.

import type { DocInput, ReplyInput, TopicInput } from '@dualstore/core';
import type { Backend, TailEvent } from './backend.js';
import { CliError } from './cli-error.js';
import { defaultDbPath } from './db-path.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { errorDocument, type View, writeJson, writePretty } from './output.js';
import {
  checkAgeFlag,
  checkFilterFlag,
  parseChoice,
  parseDurationFlag,
  parseIntFlag,
  parseJsonObjectFlag,
  parseList,
  parseSince,
  STATUSES,
  type Status,
} from './parse.js';
import type { CliIo } from './run.js';

/** Commander's parsed options of a command merged over the program's (global) ones. */
export type Options = Record<string, string | boolean | string[] | undefined>;

/** What a command hands back to be printed. */
interface Outcome {
  value: unknown;
  view?: View;
  /** Defaults to 0. */
  exit?: number;
}

/** Where the data is: decided once per command from flags and environment. */
type Target = { mode: 'local'; db: string } | { mode: 'remote'; url: string; token?: string };

interface Context {
  args: string[];
  opts: Options;
  io: CliIo;
  collection: string;
  target: Target;
  /** Opens the backend on first use; `run` closes it. */
  backend(options?: { search?: boolean }): Promise<Backend>;
}

type Handler = (context: Context) => Promise<Outcome | undefined>;

const DEFAULT_COLLECTIONS = ['events', 'session_messages', 'agent_tasks', 'opencode_events'];
const DOC_VIEW: View = { columns: ['seq', 'id', 'topic', 'status', 'timestamp', 'text'] };
const CLAIM_VIEW: View = { columns: ['doc.id', 'doc.topic', 'doc.text', 'claim.token', 'claim.expires_at'] };
const SEARCH_VIEW: View = { columns: ['score', 'doc.id', 'doc.topic', 'snippet'] };
const TOPIC_VIEW: View = { columns: ['name', 'description', 'prompt', 'updated_at'] };
const TOKEN_VIEW: View = { columns: ['id', 'name', 'scopes', 'collections', 'created_at', 'revoked_at'] };
const TAIL_LIMIT = 1_000_000_000;

function str(opts: Options, key: string): string | undefined {
  const value = opts[key];
  return typeof value === 'string' ? value : undefined;
}

function required(opts: Options, key: string, flag: string, hint: string): string {
  const value = str(opts, key);
  if (value === undefined || value.length === 0) throw new CliError('usage', `${flag} is required: ${hint}`);
  return value;
}

function resolveTarget(opts: Options, env: CliIo['env']): Target {
  const urlFlag = str(opts, 'url');
  const dbFlag = str(opts, 'db');
  if (urlFlag !== undefined && dbFlag !== undefined) {
    throw new CliError('usage', '--url and --db exclude each other: --url talks to a server, --db opens the file');
  }
  const url = dbFlag === undefined ? (urlFlag ?? nonEmpty(env.DUALSTORE_URL)) : undefined;
  if (url !== undefined) {
    if (!/^https?:\/\/[^/\s]+/.test(url)) {
      throw new CliError(
        urlFlag === undefined ? 'config_invalid' : 'usage',
        `${urlFlag === undefined ? 'DUALSTORE_URL' : '--url'} must be an http(s) URL like http://127.0.0.1:4261; got ${JSON.stringify(url.slice(0, 80))}`,
      );
    }
    const token = str(opts, 'authToken') ?? nonEmpty(env.DUALSTORE_TOKEN);
    return { mode: 'remote', url, ...(token === undefined ? {} : { token }) };
  }
  return { mode: 'local', db: dbFlag ?? nonEmpty(env.DUALSTORE_DB) ?? defaultDbPath(env) };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.length === 0 ? undefined : value;
}

/** `COLLECTIONS` as `dualstore serve` reads it, so a local open creates what the server would. */
function startCollections(env: CliIo['env']): string[] {
  const list = nonEmpty(env.COLLECTIONS);
  return list === undefined ? DEFAULT_COLLECTIONS : parseList('COLLECTIONS', list);
}

async function readStdin(io: CliIo): Promise<string> {
  const stdin = io.stdin ?? process.stdin;
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of stdin) text += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

/** A text flag where `-` means "read standard input" (long bodies, prompts with quotes). */
async function textFlag(io: CliIo, value: string | undefined): Promise<string | undefined> {
  return value === '-' ? readStdin(io) : value;
}

function status(opts: Options): Status | undefined {
  const value = str(opts, 'status');
  return value === undefined ? undefined : parseChoice('--status', value, STATUSES);
}

function agentName(opts: Options, env: CliIo['env']): string {
  const agent = str(opts, 'agent') ?? nonEmpty(env.DUALSTORE_AGENT);
  if (agent === undefined) {
    throw new CliError(
      'usage',
      '--agent is required (or set DUALSTORE_AGENT): who claims the work, e.g. --agent @reviewer',
    );
  }
  // `@name` reads naturally on a command line; stored without the @, like mentions.
  return agent.replace(/^@/, '');
}

function selectorFlags(opts: Options) {
  const filter = str(opts, 'filter');
  const topic = str(opts, 'topic');
  const mention = str(opts, 'mention');
  const tool = str(opts, 'toolCall');
  const s = status(opts);
  return {
    ...(filter === undefined ? {} : { filter: checkFilterFlag('--filter', filter) }),
    ...(topic === undefined ? {} : { topic }),
    ...(s === undefined ? {} : { status: s }),
    ...(mention === undefined ? {} : { mention }),
    ...(tool === undefined ? {} : { tool }),
  };
}

function arg(context: Context, index: number, name: string): string {
  const value = context.args[index];
  if (value === undefined) throw new CliError('usage', `missing argument <${name}>`);
  return value;
}

function claimToken(opts: Options): string {
  return required(opts, 'token', '--token', 'the claim token that `pull --claim` printed (items[0].claim.token)');
}

const HANDLERS: Record<string, Handler> = {
  async push(context) {
    const { opts, io } = context;
    const topic = context.args[0];
    const meta = str(opts, 'meta');
    const delay = str(opts, 'delay');
    const maxAttempts = str(opts, 'maxAttempts');
    const source =
      str(opts, 'source') ??
      (nonEmpty(io.env.DUALSTORE_AGENT) === undefined ? undefined : `agent:${agentName({}, io.env)}`);
    const doc: DocInput = {
      text: (await textFlag(io, str(opts, 'body'))) ?? '',
      ...(topic === undefined ? {} : { topic }),
      ...(meta === undefined ? {} : { metadata: parseJsonObjectFlag('--meta', meta) as DocInput['metadata'] }),
      ...(delay === undefined
        ? {}
        : { available_at: new Date(Date.now() + parseDurationFlag('--delay', delay)).toISOString() }),
      ...(source === undefined ? {} : { source }),
      ...optional(opts, 'id', 'id'),
      ...optional(opts, 'correlationId', 'correlation_id'),
      ...optional(opts, 'parentId', 'parent_id'),
      ...(maxAttempts === undefined ? {} : { max_attempts: parseIntFlag('--max-attempts', maxAttempts, 1, 1000) }),
    };
    const backend = await context.backend();
    return { value: await backend.insert(context.collection, doc, str(opts, 'idempotencyKey')) };
  },

  async pull(context) {
    const { opts, io } = context;
    if (opts.claim !== true) {
      throw new CliError(
        'usage',
        'pull takes work under a lease: add --claim. To look at waiting work without claiming it, use `query --status pending --topic <topic>`',
      );
    }
    const topic = context.args[0];
    const agent = agentName(opts, io.env);
    const wait = str(opts, 'wait');
    const lease = str(opts, 'lease');
    const limit = str(opts, 'limit');
    const filter = str(opts, 'filter');
    const waitMs = wait === undefined ? undefined : parseDurationFlag('--wait', wait);
    if (waitMs !== undefined && waitMs > 30_000)
      throw new CliError('usage', '--wait is at most 30s (the API long-polls up to 30 s)');
    const request = {
      agent,
      ...(topic === undefined ? {} : { topic }),
      ...(filter === undefined ? {} : { filter: checkFilterFlag('--filter', filter) }),
      ...(lease === undefined ? {} : { leaseMs: parseDurationFlag('--lease', lease) }),
      ...(limit === undefined ? {} : { limit: parseIntFlag('--limit', limit, 1, 100) }),
      ...(waitMs === undefined ? {} : { waitMs }),
    };
    const backend = await context.backend();
    const result = await backend.claim(context.collection, request);
    return { value: result, view: CLAIM_VIEW, exit: result.items.length === 0 ? EXIT.nothingToPull : EXIT.ok };
  },

  async complete(context) {
    const id = arg(context, 0, 'id');
    const token = claimToken(context.opts);
    return { value: await (await context.backend()).complete(context.collection, id, token) };
  },

  async fail(context) {
    const { opts } = context;
    const id = arg(context, 0, 'id');
    const token = claimToken(opts);
    const error = required(opts, 'error', '--error', 'say what went wrong, e.g. --error "tests failed"');
    const retryIn = str(opts, 'retryIn');
    const request = {
      token,
      error,
      ...(retryIn === undefined ? {} : { retryInMs: parseDurationFlag('--retry-in', retryIn) }),
    };
    return { value: await (await context.backend()).fail(context.collection, id, request) };
  },

  async extend(context) {
    const id = arg(context, 0, 'id');
    const token = claimToken(context.opts);
    const leaseMs = parseDurationFlag('--lease', str(context.opts, 'lease') ?? '5m');
    return { value: await (await context.backend()).extend(context.collection, id, token, leaseMs) };
  },

  async release(context) {
    const id = arg(context, 0, 'id');
    const token = claimToken(context.opts);
    return { value: await (await context.backend()).release(context.collection, id, token) };
  },

  async reply(context) {
    const { opts, io } = context;
    const id = arg(context, 0, 'id');
    const replyStatus = parseChoice('--status', required(opts, 'status', '--status', 'success or failure'), [
      'success',
      'failure',
    ] as const);
    const meta = str(opts, 'meta');
    const token = str(opts, 'token');
    const topic = str(opts, 'topic');
    const source =
      str(opts, 'source') ??
      (nonEmpty(io.env.DUALSTORE_AGENT) === undefined ? undefined : `agent:${agentName({}, io.env)}`);
    const input: ReplyInput = {
      text: (await textFlag(io, str(opts, 'body'))) ?? '',
      status: replyStatus,
      ...(meta === undefined ? {} : { metadata: parseJsonObjectFlag('--meta', meta) as ReplyInput['metadata'] }),
      ...(token === undefined ? {} : { token }),
      ...(topic === undefined ? {} : { topic }),
      ...(source === undefined ? {} : { source }),
    };
    return { value: await (await context.backend()).reply(context.collection, id, input) };
  },

  async get(context) {
    const id = arg(context, 0, 'id');
    return { value: await (await context.backend()).get(context.collection, id) };
  },

  async query(context) {
    const { opts } = context;
    const limit = str(opts, 'limit');
    const before = str(opts, 'before');
    const request = {
      ...selectorFlags(opts),
      ...(limit === undefined ? {} : { limit: parseIntFlag('--limit', limit, 1, 200) }),
      ...(before === undefined ? {} : { before }),
    };
    return { value: await (await context.backend()).recent(context.collection, request), view: DOC_VIEW };
  },

  async search(context) {
    const { opts } = context;
    const q = arg(context, 0, 'text');
    const k = str(opts, 'k');
    const filter = str(opts, 'filter');
    const mode = str(opts, 'mode');
    const order = str(opts, 'order');
    const request = {
      q,
      ...(k === undefined ? {} : { k: parseIntFlag('--k', k, 1, 50) }),
      ...(filter === undefined ? {} : { filter: checkFilterFlag('--filter', filter) }),
      ...(mode === undefined ? {} : { mode: parseChoice('--mode', mode, ['simple', 'fts'] as const) }),
      ...(order === undefined ? {} : { order: parseChoice('--order', order, ['relevance', 'recent'] as const) }),
    };
    const backend = await context.backend({ search: true });
    // Read-your-writes by default: the index is a projection that trails the feed by a few ms,
    // and a command that just pushed expects to find it. `--no-wait` skips it (≤ 2 s otherwise).
    const waitFor = opts.wait === false ? undefined : await backend.head(context.collection);
    const value = await backend.search(context.collection, {
      ...request,
      ...(waitFor === undefined ? {} : { waitFor }),
    });
    return { value, view: SEARCH_VIEW };
  },

  async thread(context) {
    const id = arg(context, 0, 'id');
    return { value: await (await context.backend()).thread(context.collection, id), view: DOC_VIEW };
  },

  async tail(context) {
    const { opts, io } = context;
    const since = str(opts, 'since');
    const count = str(opts, 'count');
    const max = count === undefined ? TAIL_LIMIT : parseIntFlag('--count', count, 1, TAIL_LIMIT);
    const collections = context.args.length > 0 ? context.args : [context.collection];
    const selector = selectorFlags(opts);
    const start = since === undefined ? undefined : parseSince('--since', since);
    const backend = await context.backend();
    const controller = new AbortController();
    const stop = () => controller.abort();
    io.signal?.addEventListener('abort', stop, { once: true });
    if (io.signal?.aborted) stop();
    // Without an injected signal this is the real process: Ctrl-C (or a supervisor's TERM) ends
    // the tail cleanly with exit 0, like `tail -f`.
    const handleSignals = io.signal === undefined;
    if (handleSignals) {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
    let seen = 0;
    try {
      await backend.tail({
        ...selector,
        collections,
        ...(start === undefined ? {} : { since: start }),
        signal: controller.signal,
        onEvent: (event: TailEvent) => {
          if (controller.signal.aborted) return;
          if (opts.pretty === true) io.stdout.write(`${prettyEvent(event)}\n`);
          else writeJson(io.stdout, event);
          if (event.event !== 'reset' && ++seen >= max) stop();
        },
      });
    } finally {
      io.signal?.removeEventListener('abort', stop);
      if (handleSignals) {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    }
    return undefined;
  },

  async 'topics list'(context) {
    return { value: await (await context.backend()).listTopics(), view: TOPIC_VIEW };
  },

  async 'topics create'(context) {
    const { opts, io } = context;
    const name = arg(context, 0, 'name');
    const description = str(opts, 'description');
    const prompt = await textFlag(io, str(opts, 'prompt'));
    const input: TopicInput = {
      ...(description === undefined ? {} : { description }),
      ...(prompt === undefined ? {} : { prompt }),
    };
    return { value: await (await context.backend()).putTopic(name, input) };
  },

  async 'topics set-prompt'(context) {
    const name = arg(context, 0, 'name');
    const prompt = await textFlag(context.io, arg(context, 1, 'prompt'));
    return { value: await (await context.backend()).putTopic(name, { prompt: prompt ?? '' }) };
  },

  async 'topics delete'(context) {
    const name = arg(context, 0, 'name');
    await (await context.backend()).deleteTopic(name);
    return { value: { deleted: true, name } };
  },

  async stats(context) {
    return { value: await (await context.backend()).stats(context.collection) };
  },

  async clean(context) {
    const { opts } = context;
    const olderThan = checkAgeFlag('--older-than', str(opts, 'olderThan') ?? '30d');
    const statusText = str(opts, 'status') ?? 'completed';
    const request = {
      olderThan,
      ...(statusText === 'any'
        ? {}
        : { status: parseChoice('--status', statusText, [...STATUSES, 'any'] as const) as Status }),
    };
    return { value: await (await context.backend()).deleteDocs(context.collection, request) };
  },

  async 'collections list'(context) {
    return { value: await (await context.backend()).listCollections() };
  },

  async 'collections create'(context) {
    const { opts } = context;
    const name = arg(context, 0, 'name');
    const maxAttempts = str(opts, 'maxAttempts');
    const retentionDays = str(opts, 'retentionDays');
    const input = {
      ...(maxAttempts === undefined ? {} : { max_attempts: parseIntFlag('--max-attempts', maxAttempts, 1, 1000) }),
      ...(retentionDays === undefined
        ? {}
        : { retention_days: parseIntFlag('--retention-days', retentionDays, 1, 36_500) }),
    };
    return { value: await (await context.backend()).putCollection(name, input) };
  },

  async 'hooks test'(context) {
    const { opts, io } = context;
    const route = arg(context, 0, 'route');
    const file = required(opts, 'file', '--file', 'the payload to send, e.g. --file payload.json ("-" reads stdin)');
    const headers: Record<string, string> = {};
    for (const header of (opts.header as string[] | undefined) ?? []) {
      const colon = header.indexOf(':');
      if (colon < 1)
        throw new CliError(
          'usage',
          `--header expects "Name: value", e.g. -H "X-GitHub-Event: push"; got ${JSON.stringify(header.slice(0, 60))}`,
        );
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    }
    const url = str(opts, 'url') ?? nonEmpty(io.env.DUALSTORE_URL) ?? 'http://127.0.0.1:4261';
    const secret = str(opts, 'secret');
    const hooksFile = str(opts, 'hooks') ?? nonEmpty(io.env.DUALSTORE_HOOKS);
    const token = str(opts, 'authToken') ?? nonEmpty(io.env.DUALSTORE_TOKEN);
    const { testHook } = await import('./hooks.js');
    const answer = await testHook({
      route,
      file,
      ...(file === '-' ? { stdinText: await readStdin(io) } : {}),
      url,
      ...(secret === undefined ? {} : { secret }),
      ...(hooksFile === undefined ? {} : { hooksFile }),
      ...(token === undefined ? {} : { token }),
      headers,
      env: io.env,
    });
    if (answer.status < 400) return { value: answer };
    // The answer still goes to stdout (it is what was asked for); the error and its exit code
    // follow the server's problem+json code, as for every other command.
    const body = answer.body as { code?: unknown; detail?: unknown; title?: unknown } | undefined;
    const code = typeof body?.code === 'string' ? body.code : 'bad_response';
    const message =
      typeof body?.detail === 'string'
        ? body.detail
        : typeof body?.title === 'string'
          ? body.title
          : `HTTP ${answer.status}`;
    writeJson(io.stderr, { error: { code, message } });
    return { value: answer, exit: exitCodeFor(code) };
  },

  async 'token create'(context) {
    const { opts } = context;
    const name = required(opts, 'name', '--name', 'a label for people, e.g. --name ci-pusher');
    const scopes = parseList('--scopes', required(opts, 'scopes', '--scopes', 'e.g. --scopes read,write'));
    const collectionsText = str(opts, 'collections');
    const collections = collectionsText === undefined ? undefined : parseList('--collections', collectionsText);
    const { createToken } = await import('./tokens.js');
    return { value: await createToken(localDb(context), { name, scopes, collections }), view: TOKEN_VIEW };
  },

  async 'token list'(context) {
    const { listTokens } = await import('./tokens.js');
    return { value: await listTokens(localDb(context)), view: TOKEN_VIEW };
  },

  async 'token revoke'(context) {
    const id = arg(context, 0, 'id');
    const { revokeToken } = await import('./tokens.js');
    return { value: await revokeToken(localDb(context), id) };
  },
};

function optional(opts: Options, key: string, field: string): Record<string, string> {
  const value = str(opts, key);
  return value === undefined ? {} : { [field]: value };
}

/** Tokens live only in the database: there is no HTTP route that mints them (DESIGN §8). */
function localDb(context: Context): string {
  if (context.target.mode !== 'local') {
    throw new CliError(
      'remote_unsupported',
      'tokens are managed on the machine that holds the database: run `dualstore token …` there, with --db or DUALSTORE_DB, not --url',
    );
  }
  return context.target.db;
}

function prettyEvent(event: TailEvent): string {
  if (event.event === 'reset') return `reset   restarting at ${event.since} (asked for ${event.requested})`;
  if (event.event === 'delete') return `${String(event.seq).padStart(6)} delete  ${event.deleted.id}`;
  const doc = event.doc;
  const text = doc.text.replace(/[\r\n\t]+/g, ' ');
  return `${String(event.seq).padStart(6)} ${event.event.padEnd(7)} ${doc.collection}/${doc.id} ${doc.status} ${doc.topic ?? '-'} ${text.length > 60 ? `${text.slice(0, 59)}…` : text}`;
}

/** Print a thrown value as the JSON error document and pick its exit code. */
export function reportError(io: CliIo, error: unknown): number {
  const document = errorDocument(error);
  writeJson(io.stderr, document);
  return exitCodeFor(document.error.code);
}

/**
 * Run one agent command: `name` is the command path (`push`, `topics list`), `args` its
 * positional arguments, `opts` its options over the global ones. Resolves to the exit code.
 */
export async function runCommand(name: string, args: string[], opts: Options, io: CliIo): Promise<number> {
  const handler = HANDLERS[name];
  if (handler === undefined) throw new Error(`no handler for ${name}`);
  let opened: Backend | undefined;
  try {
    const target = resolveTarget(opts, io.env);
    const collection = str(opts, 'collection') ?? nonEmpty(io.env.DUALSTORE_COLLECTION) ?? 'events';
    const context: Context = {
      args,
      opts,
      io,
      collection,
      target,
      async backend(options = {}) {
        if (target.mode === 'remote') {
          const { openRemoteBackend } = await import('./remote-backend.js');
          opened = openRemoteBackend({
            url: target.url,
            ...(target.token === undefined ? {} : { token: target.token }),
          });
        } else {
          const { openLocalBackend } = await import('./local-backend.js');
          opened = await openLocalBackend({
            path: target.db,
            search: options.search === true,
            collections: startCollections(io.env),
          });
        }
        return opened;
      },
    };
    const outcome = await handler(context);
    if (outcome !== undefined) {
      if (opts.pretty === true) writePretty(io.stdout, outcome.value, outcome.view);
      else writeJson(io.stdout, outcome.value);
    }
    return outcome?.exit ?? EXIT.ok;
  } catch (error) {
    return reportError(io, error);
  } finally {
    await opened?.close();
  }
}
