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
  stdout: TextSink;
  stderr: TextSink;
  env: Readonly<Record<string, string | undefined>>;
  /** Stops a long-running command (`serve`) as SIGTERM would. Without it, `serve` handles SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

/** The package version, shown by `--version` and `/v1/health`. */
export const CLI_VERSION = '0.1.0';

function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('dualstore')
    .description('DualStore: a local-first event store and work queue for LLM agents')
    .version(CLI_VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(run dualstore --help for usage)');

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

  return program;
}

/**
 * Run the CLI with `argv` (the arguments after the program name) and resolve to its exit code.
 * Never calls `process.exit`.
 *
 * @example
 * const code = await run(['serve', '--port', '0'], { stdout: process.stdout, stderr: process.stderr, env: process.env });
 */
export async function run(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const fullIo: CliIo = {
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
