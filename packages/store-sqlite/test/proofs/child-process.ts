// SPDX-License-Identifier: GPL-3.0-or-later
// Real OS processes for the proofs: run a TypeScript child script (the way vitest resolves the
// workspace, through the `@dualstore/source` condition), read the JSON lines it prints, and make
// sure that no child outlives its test.

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Node flags that run a TypeScript child against the workspace's sources. */
export const TS_CHILD_ARGS: readonly string[] = ['--conditions=@dualstore/source', '--import', 'tsx'];

/** The package root: children run there so `tsx` and the workspace packages resolve. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Absolute path of a child script that lives beside this file. */
export function childScript(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/** What a child printed on one stdout line (every line is one JSON object). */
export type ChildLine = { ev: string } & Record<string, unknown>;

export interface ChildOptions {
  /** Script arguments after the script path. */
  args?: readonly string[];
  /** Run the node command under this program, e.g. `['strace', '-f', …]`. */
  wrapper?: readonly string[];
  /** Called for every complete line as it arrives (before any waiter is woken). */
  onLine?: (line: ChildLine, child: Child) => void;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<Child>();

/** A child process printing JSON lines on stdout. */
export class Child {
  readonly process: ChildProcess;
  readonly lines: ChildLine[] = [];
  /** Lines that were not JSON objects (a child must print none). */
  readonly garbage: string[] = [];
  /** Set when stdout ended inside a line. Pipe writes of a short line are atomic, so never expected. */
  truncated = '';
  stderr = '';
  /** Resolves once the process has exited and its stdout and stderr are fully read. */
  readonly closed: Promise<ChildExit>;
  #exit: ChildExit | undefined;
  #partial = '';
  readonly #waiters = new Set<() => void>();
  readonly #onLine: ChildOptions['onLine'];

  constructor(script: string, options: ChildOptions = {}) {
    this.#onLine = options.onLine;
    const nodeArgs = [...TS_CHILD_ARGS, script, ...(options.args ?? [])];
    const [command, ...wrapperArgs] = options.wrapper ?? [];
    this.process =
      command === undefined
        ? spawn(process.execPath, nodeArgs, { cwd: PACKAGE_ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
        : spawn(command, [...wrapperArgs, process.execPath, ...nodeArgs], {
            cwd: PACKAGE_ROOT,
            stdio: ['pipe', 'pipe', 'pipe'],
          });
    live.add(this);
    this.process.stdout?.setEncoding('utf8');
    this.process.stderr?.setEncoding('utf8');
    this.process.stdout?.on('data', (chunk: string) => this.#read(chunk));
    this.process.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    // A child that died cannot read its stdin; a write to it must not crash the test process.
    this.process.stdin?.on('error', () => {});
    this.closed = new Promise<ChildExit>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        this.#exit = { code, signal };
        if (this.#partial !== '') this.truncated = this.#partial;
        live.delete(this);
        this.#wake();
        resolve(this.#exit);
      };
      this.process.once('close', done);
      this.process.once('error', (error) => {
        this.stderr += `spawn failed: ${error.message}\n`;
        done(null, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** Has the process exited (and its output been read)? */
  get exited(): boolean {
    return this.#exit !== undefined;
  }

  #read(chunk: string): void {
    const parts = (this.#partial + chunk).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const text of parts) {
      let line: unknown;
      try {
        line = JSON.parse(text);
      } catch {
        line = undefined;
      }
      if (typeof line !== 'object' || line === null || typeof (line as { ev?: unknown }).ev !== 'string') {
        this.garbage.push(text);
        continue;
      }
      this.lines.push(line as ChildLine);
      this.#onLine?.(line as ChildLine, this);
    }
    this.#wake();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Lines of one kind, in the order printed. */
  events(ev: string): ChildLine[] {
    return this.lines.filter((line) => line.ev === ev);
  }

  /**
   * Resolve when `condition` holds (checked on every new line). Rejects if the child exits
   * first, or after `timeoutMs` — a bound on a hang, reported with the child's stderr.
   */
  waitFor(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (condition()) {
          finish();
          resolve();
        } else if (this.#exit !== undefined) {
          finish();
          reject(new Error(`child ${this.pid} exited (${JSON.stringify(this.#exit)}) before ${what}\n${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`child ${this.pid}: no ${what} within ${timeoutMs} ms\n${this.stderr}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Resolve when a line of kind `ev` has been printed; returns the first such line. */
  async next(ev: string, timeoutMs?: number): Promise<ChildLine> {
    await this.waitFor(() => this.lines.some((line) => line.ev === ev), `a "${ev}" line`, timeoutMs);
    return this.lines.find((line) => line.ev === ev) as ChildLine;
  }

  /** Write one line to the child's stdin. */
  send(value: unknown): void {
    this.process.stdin?.write(`${JSON.stringify(value)}\n`);
  }

  /**
   * SIGKILL this child (by its own pid) and wait until it is gone. Closing stdin as well ends a
   * grandchild behind a wrapper (strace detaches its tracee when killed): children exit on EOF.
   */
  async kill(): Promise<ChildExit> {
    if (this.#exit === undefined) {
      this.process.kill('SIGKILL');
      this.process.stdin?.destroy();
    }
    return this.closed;
  }
}

/** Start a child script (see Child). */
export function startChild(scriptName: string, options: ChildOptions = {}): Child {
  return new Child(childScript(scriptName), options);
}

/** SIGKILL every child still running and wait for them: for afterEach. */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...live].map((child) => child.kill()));
}
