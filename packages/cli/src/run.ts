// SPDX-License-Identifier: GPL-3.0-or-later
// The command-line program, runnable in-process: `run(argv, io)` parses, dispatches and returns an
// exit code instead of exiting, so tests drive it with injected stdio (STYLE: "the CLI runs
// in-process"). Commands load their heavy modules (the server, the store) only when they run, so
// `--help` and usage errors stay fast.

import { Command, CommanderError, Option } from 'commander';
import { EXIT } from './exit-codes.js';

/** A writable text sink: `process.stdout`, or a test's collector. */
export interface TextSink {
  write(chunk: string): unknown;
}

/** What a command may touch of the outside world. */
export interface CliIo {
  /** Read by `--body -` and `--prompt -`. Defaults to `process.stdin`, opened only then. */
  stdin?: AsyncIterable<string | Uint8Array>;
  stdout: TextSink;
  stderr: TextSink;
  env: Readonly<Record<string, string | undefined>>;
  /** Stops a long-running command (`serve`, `tail`) as SIGTERM would. Without it they handle SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

/** The package version, shown by `--version` and `/v1/health`. */
export const CLI_VERSION = '0.1.0';

/** A command path (`push`, `topics list`) and what commander parsed for it. */
type Dispatch = (name: string, command: Command) => Promise<void>;

/**
 * The connection options every agent command accepts after its name (`push x --url …`) as well as
 * before it (`dualstore --url … push x`). Commands that take a claim token use `--token` for it,
 * so there the bearer token is `--auth-token` (or DUALSTORE_TOKEN, or `dualstore --token … <cmd>`).
 */
function connectionOptions(command: Command, options: { claimToken: boolean; collection: boolean }): Command {
  command
    .addOption(new Option('--url <url>', 'a DualStore server: remote mode [DUALSTORE_URL]'))
    .addOption(
      new Option('--db <path>', 'the SQLite file: local mode [DUALSTORE_DB, default under ~/.local/share/dualstore]'),
    )
    .addOption(new Option('--auth-token <secret>', 'bearer token for remote mode [DUALSTORE_TOKEN]'))
    .addOption(new Option('--pretty', 'tables for people instead of JSON'));
  if (!options.claimToken) {
    command.addOption(
      new Option('--token <secret>', 'bearer token for remote mode (same as --auth-token) [DUALSTORE_TOKEN]'),
    );
  }
  if (options.collection) {
    command.addOption(new Option('-c, --collection <name>', 'the collection [DUALSTORE_COLLECTION, default events]'));
  }
  return command;
}

function selectorOptions(command: Command): Command {
  return command
    .addOption(new Option('--topic <topic>', 'only docs with this topic'))
    .addOption(new Option('--status <status>', 'only docs in this status: pending, processing, completed, failed'))
    .addOption(new Option('--mention <name>', 'only docs mentioning @name'))
    .addOption(new Option('--tool-call <tool>', 'only docs with this tool call (e.g. bash)'))
    .addOption(new Option('--filter <json>', 'a filter, e.g. \'{"metadata.repo":"x"}\''));
}

function addAgentCommands(program: Command, dispatch: Dispatch): void {
  const action =
    (name: string) =>
    (...params: unknown[]) =>
      dispatch(name, params.at(-1) as Command);
  const agent = (parent: Command, name: string, description: string, claimToken = false, collection = true) =>
    connectionOptions(parent.command(name).description(description), { claimToken, collection });

  agent(program, 'push', 'Add a doc (an event, a message, a task). Prints { id, seq }.')
    .argument('[topic]', 'routing key; a consumer pulls by topic')
    .addOption(new Option('-b, --body <text>', 'the text ("-" reads stdin)'))
    .addOption(new Option('-m, --meta <json>', 'metadata, a JSON object'))
    .addOption(new Option('--delay <duration>', 'not claimable before now + this (10m, 2h)'))
    .addOption(new Option('--idempotency-key <key>', 'a repeat with the same key returns the first doc'))
    .addOption(
      new Option(
        '--source <source>',
        'agent:<name>, human:<name>, webhook:<route> or system [default agent:$DUALSTORE_AGENT]',
      ),
    )
    .addOption(new Option('--correlation-id <id>', 'the conversation this belongs to'))
    .addOption(new Option('--parent-id <id>', 'the doc this answers'))
    .addOption(new Option('--max-attempts <n>', "failures allowed before failed [default the collection's, else 5]"))
    .addOption(new Option('--id <id>', 'your own id, [A-Za-z0-9_-]{1,128}'))
    .action(action('push'));

  agent(
    program,
    'pull',
    'Claim work under a lease. Prints { items: [{ doc, claim: { token, expires_at }, prompt? }] }; exit 3 when none.',
  )
    .argument('[topic]', 'only work with this topic')
    .addOption(new Option('--claim', 'take the work under a lease (required: pull always claims)'))
    .addOption(new Option('--agent <name>', 'who claims, e.g. @reviewer [DUALSTORE_AGENT]'))
    .addOption(new Option('--wait <duration>', 'long-poll up to this long for work (≤ 30s)'))
    .addOption(new Option('--lease <duration>', 'lease length (100ms..24h) [default 5m]'))
    .addOption(new Option('--limit <n>', 'docs to claim, 1..100 [default 1]'))
    .addOption(new Option('--filter <json>', 'only docs matching this filter'))
    .action(action('pull'));

  agent(program, 'complete', 'Finish claimed work. Prints the doc.', true)
    .argument('<id>', 'the doc id')
    .addOption(new Option('--token <claim-token>', 'the claim token from pull'))
    .action(action('complete'));

  agent(
    program,
    'fail',
    'Give claimed work back as failed: retried after a backoff, or failed for good after max_attempts.',
    true,
  )
    .argument('<id>', 'the doc id')
    .addOption(new Option('--token <claim-token>', 'the claim token from pull'))
    .addOption(new Option('--error <message>', 'what went wrong (kept as last_error)'))
    .addOption(new Option('--retry-in <duration>', 'retry after this long [default exponential backoff]'))
    .action(action('fail'));

  agent(program, 'extend', 'Extend the lease of claimed work (a heartbeat for long jobs).', true)
    .argument('<id>', 'the doc id')
    .addOption(new Option('--token <claim-token>', 'the claim token from pull'))
    .addOption(new Option('--lease <duration>', 'the new lease from now [default 5m]'))
    .action(action('extend'));

  agent(program, 'release', 'Give claimed work back untouched.', true)
    .argument('<id>', 'the doc id')
    .addOption(new Option('--token <claim-token>', 'the claim token from pull'))
    .action(action('release'));

  agent(
    program,
    'reply',
    'Answer a doc: stores the reply and completes (success) or fails (failure) the original. Prints the reply.',
    true,
  )
    .argument('<id>', 'the doc answered')
    .addOption(new Option('--status <status>', 'success or failure'))
    .addOption(new Option('-b, --body <text>', 'the reply text ("-" reads stdin)'))
    .addOption(new Option('-m, --meta <json>', 'metadata, a JSON object'))
    .addOption(new Option('--token <claim-token>', 'the claim token, when the original is claimed'))
    .addOption(new Option('--topic <topic>', 'make the reply pending work on this topic'))
    .addOption(new Option('--source <source>', 'who replies [default agent:$DUALSTORE_AGENT]'))
    .action(action('reply'));

  agent(program, 'get', 'One doc by id.').argument('<id>', 'the doc id').action(action('get'));

  selectorOptions(agent(program, 'query', 'Recent docs, newest first. Prints { items, next?, cursor }.'))
    .addOption(new Option('--limit <n>', 'page size, 1..200 [default 50]'))
    .addOption(new Option('--before <next>', 'the `next` of the previous page'))
    .action(action('query'));

  agent(program, 'search', 'Full-text search. Prints { items: [{ doc, score, snippet }], indexed_through }.')
    .argument('<text>', 'what to look for')
    .addOption(new Option('--k <n>', 'results, 1..50 [default 8]'))
    .addOption(new Option('--mode <mode>', 'simple (any text) or fts (FTS5 syntax) [default simple]'))
    .addOption(new Option('--order <order>', 'relevance or recent [default relevance]'))
    .addOption(new Option('--filter <json>', 'only docs matching this filter'))
    .addOption(new Option('--no-wait', 'do not wait (≤ 2 s) for the index to reach the newest doc'))
    .action(action('search'));

  agent(program, 'thread', 'The conversation of a doc, oldest first. Prints { items }.')
    .argument('<id>', 'any doc of the thread')
    .action(action('thread'));

  selectorOptions(agent(program, 'tail', 'Follow changes as JSON Lines: { event, seq, doc | deleted }.'))
    .argument('[collections...]', 'collections to follow [default --collection, else events]')
    .addOption(new Option('--since <position>', 'start after this feed seq or at this ISO time [default now]'))
    .addOption(new Option('--count <n>', 'stop after n events'))
    .action(action('tail'));

  const topics = program.command('topics').description('Topics and their system prompts.');
  agent(topics, 'list', 'Every topic.', false, false).action(action('topics list'));
  agent(topics, 'create', 'Create a topic, or update its description / prompt.', false, false)
    .argument('<name>', 'the topic')
    .addOption(new Option('--description <text>', 'what the topic is for'))
    .addOption(new Option('--prompt <text>', 'the system prompt handed out with its work ("-" reads stdin)'))
    .action(action('topics create'));
  agent(topics, 'set-prompt', "Replace a topic's system prompt.", false, false)
    .argument('<name>', 'the topic')
    .argument('<prompt>', 'the prompt ("-" reads stdin)')
    .action(action('topics set-prompt'));
  agent(topics, 'delete', 'Delete a topic (its docs stay).', false, false)
    .argument('<name>', 'the topic')
    .action(action('topics delete'));

  agent(program, 'stats', 'Counts by status. Prints { collection, counts, total, last_seq }.').action(action('stats'));

  agent(program, 'clean', 'Retention: delete old docs. Prints { deleted }.')
    .addOption(new Option('--older-than <age>', 'a duration (30d, 12h) or an ISO time [default 30d]'))
    .addOption(new Option('--status <status>', 'pending, processing, completed, failed or any [default completed]'))
    .action(action('clean'));

  const tokens = program.command('token').description('Scoped access tokens (local mode: on the database file).');
  agent(tokens, 'create', 'Create a token; prints it with its secret, shown this once.', false, false)
    .addOption(new Option('--name <label>', 'a label for people'))
    .addOption(new Option('--scopes <list>', 'read, write, claim, admin, comma-separated'))
    .addOption(new Option('--collections <list>', 'limit it to these collections [default all]'))
    .action(action('token create'));
  agent(tokens, 'list', 'Every token (never a secret).', false, false).action(action('token list'));
  agent(tokens, 'revoke', 'Revoke a token by id.', false, false)
    .argument('<id>', 'the token id')
    .action(action('token revoke'));

  const hooks = program.command('hooks').description('Webhook routes.');
  hooks
    .command('test')
    .description("POST a payload to /hooks/<route>, signed as the route's verifier expects. Prints { status, body }.")
    .argument('<route>', 'the route name, e.g. github')
    .addOption(new Option('--file <path>', 'the payload, sent byte for byte ("-" reads stdin)'))
    .addOption(new Option('--url <url>', 'the server [DUALSTORE_URL, default http://127.0.0.1:4261]'))
    .addOption(new Option('--secret <secret>', "sign with this secret instead of the route's"))
    .addOption(
      new Option(
        '--hooks <file>',
        'the webhook routes file, JSON or YAML [DUALSTORE_HOOKS, default the built-in routes]',
      ),
    )
    .addOption(new Option('--token <secret>', 'bearer token, for routes with verify: none [DUALSTORE_TOKEN]'))
    .addOption(
      new Option('-H, --header <name:value>', 'an extra header, e.g. "X-GitHub-Event: push" (repeatable)').argParser(
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      ),
    )
    .addOption(new Option('--pretty', 'a table for people instead of JSON'))
    .action(action('hooks test'));

  const collections = program.command('collections').description('Collections.');
  agent(collections, 'list', 'Every collection name.', false, false).action(action('collections list'));
  agent(collections, 'create', 'Create a collection, or update its settings.', false, false)
    .argument('<name>', '[a-z0-9_-]{1,64}')
    .addOption(new Option('--max-attempts <n>', 'failures allowed before failed [default 5]'))
    .addOption(new Option('--retention-days <n>', 'retention of completed docs [default 30]'))
    .action(action('collections create'));
}

function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('dualstore')
    .description('DualStore: a local-first event store and work queue for LLM agents')
    .version(CLI_VERSION)
    .exitOverride()
    // Program options go before the command name (`dualstore --url … push`); each command has
    // its own after it. Positional parsing is what lets `complete --token` be the claim token
    // while `dualstore --token` is the bearer token.
    .enablePositionalOptions()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Usage mistakes are errors like any other: one JSON document on stderr, code `usage`.
      outputError: (text) => {
        const message = text.replace(/^error: /, '').trim();
        io.stderr.write(`${JSON.stringify({ error: { code: 'usage', message: `${message} (see --help)` } })}\n`);
      },
    })
    .addOption(new Option('--url <url>', 'a DualStore server: remote mode [DUALSTORE_URL]'))
    .addOption(new Option('--token <secret>', 'bearer token for remote mode [DUALSTORE_TOKEN]'))
    .addOption(new Option('--db <path>', 'the SQLite file: local mode [DUALSTORE_DB]'))
    .addOption(new Option('--pretty', 'tables for people instead of JSON'));

  program
    .command('serve')
    .description(
      'Run the HTTP server (REST, SSE, /docs). Every option also reads its environment variable; ' +
        'a flag wins over the variable.',
    )
    .addOption(new Option('--port <n>', 'port to listen on; 0 picks a free one [PORT, default 4261]'))
    .addOption(new Option('--host <address>', 'address to bind [HOST, default 127.0.0.1]'))
    .addOption(
      new Option(
        '--db <path>',
        'SQLite file [DUALSTORE_DB, default $XDG_DATA_HOME/dualstore/dualstore.sqlite or ~/.local/share/dualstore/dualstore.sqlite]',
      ),
    )
    .addOption(new Option('--database-url <url>', 'postgres:// URL selecting the Postgres store [DATABASE_URL]'))
    .addOption(
      new Option(
        '--token <token>',
        'one all-powerful bearer token [AUTH_TOKEN; prefer the variable: flags show in `ps`]',
      ),
    )
    .addOption(
      new Option(
        '--cors-origin <origins>',
        'exact origins allowed by CORS, comma-separated [CORS_ORIGIN, default none]',
      ),
    )
    .addOption(
      new Option(
        '--collections <names>',
        'collections created on start, comma-separated [COLLECTIONS, default events,session_messages,agent_tasks,opencode_events]',
      ),
    )
    .addOption(new Option('--heartbeat-ms <ms>', 'SSE heartbeat interval [HEARTBEAT_MS, default 15000]'))
    .addOption(
      new Option('--body-limit <size>', 'largest request body: bytes, or 64kb / 1mb [BODY_LIMIT, default 64kb]'),
    )
    .addOption(new Option('--sse-max-per-client <n>', 'open streams per token or IP [SSE_MAX_PER_CLIENT, default 10]'))
    .addOption(
      new Option('--rate-limit-max <n>', 'requests per minute per token or IP; 0 is off [RATE_LIMIT_MAX, default 0]'),
    )
    .addOption(new Option('--hooks <file>', 'webhook routes file, JSON or YAML [DUALSTORE_HOOKS]'))
    .addOption(new Option('--durability <mode>', 'SQLite sync: normal or full [DUALSTORE_DURABILITY, default normal]'))
    .addOption(
      new Option('--insecure', 'allow a non-loopback HOST without AUTH_TOKEN (anyone reaching it has full access)'),
    )
    .action(async (options: Record<string, string | boolean | undefined>) => {
      const { serveCommand } = await import('./serve.js');
      setExit(await serveCommand(options, io));
    });

  program.addHelpText(
    'after',
    `
Output: one JSON document on stdout (JSON Lines for tail); errors as {"error":{"code","message"}} on stderr.
Exit codes: 0 ok, 1 unexpected, 3 nothing to pull, 4 not found, 5 conflict (lease_lost, already_finished,
idempotency_conflict), 64 usage, 69 unavailable, 75 try later, 77 not allowed, 78 configuration.
Local mode (default) opens the SQLite file; --url / DUALSTORE_URL talks to a server. Guide: docs/agents.md`,
  );

  addAgentCommands(program, async (name, command) => {
    const globals = program.opts<Record<string, string | boolean | undefined>>();
    const own: Record<string, string | boolean | string[] | undefined> = { ...command.opts() };
    if (!CLAIM_TOKEN_COMMANDS.has(name) && own.token !== undefined) {
      own.authToken ??= own.token;
      delete own.token;
    }
    const opts = {
      url: globals.url,
      db: globals.db,
      authToken: globals.token,
      pretty: globals.pretty,
      ...Object.fromEntries(Object.entries(own).filter(([, value]) => value !== undefined)),
    };
    const { runCommand } = await import('./commands.js');
    setExit(await runCommand(name, command.args, opts, io));
  });

  return program;
}

/** Commands whose own `--token` is a claim token, not the bearer token. */
const CLAIM_TOKEN_COMMANDS = new Set(['complete', 'fail', 'extend', 'release', 'reply']);

/**
 * Run the CLI with `argv` (the arguments after the program name) and resolve to its exit code.
 * Never calls `process.exit`.
 *
 * @example
 * const code = await run(['serve', '--port', '0'], { stdout: process.stdout, stderr: process.stderr, env: process.env });
 */
export async function run(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const fullIo: CliIo = {
    // Not defaulted to process.stdin here: touching it creates the stream, which only
    // `--body -` needs (commands.ts falls back to it then).
    ...(io.stdin === undefined ? {} : { stdin: io.stdin }),
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    ...(io.signal === undefined ? {} : { signal: io.signal }),
  };
  let code: number = EXIT.ok;
  const program = buildProgram(fullIo, (value) => {
    code = value;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version "fail" with exit code 0; anything else is a usage error (sysexits EX_USAGE).
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw error;
  }
}
