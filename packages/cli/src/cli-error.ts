// SPDX-License-Identifier: GPL-3.0-or-later
// The CLI's own coded error, for what goes wrong before any store or server is asked (a bad flag
// value, unparsable JSON, a command that needs the database file). API and client errors keep
// their own classes; everything is printed the same way by output.ts. Leaf module.

/**
 * Codes only the CLI reports, beside the API's and the client's:
 * - `usage`: a flag or argument is missing or malformed (exit 64).
 * - `remote_unsupported`: the command needs the database file itself (`token …`), not a server (exit 64).
 * - `unavailable`: the database file cannot be opened (exit 69).
 * - `config_invalid`: an environment variable has a bad value (exit 78).
 */
export type CliErrorCode = 'usage' | 'remote_unsupported' | 'unavailable' | 'config_invalid';

/**
 * A failure found by the CLI itself; rendered as `{ "error": { "code", "message" } }` on stderr.
 *
 * @example
 * throw new CliError('usage', '--meta must be a JSON object, e.g. --meta \'{"repo":"x"}\'');
 */
export class CliError extends Error {
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
  }
}
