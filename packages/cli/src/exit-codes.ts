// SPDX-License-Identifier: GPL-3.0-or-later
// Exit codes. Failures follow BSD sysexits(3) so scripts and service managers can tell a usage
// mistake from a bad configuration from a missing service without parsing messages. Three small
// codes below 64 are outcomes an agent branches on rather than failures of the tool: nothing to
// pull, not found, conflict. sysexits has no code for any of them (EX_NOINPUT means "cannot open
// an input file"), and a distinct number lets a shell loop stop on "no work" without `jq`.
// Leaf module: imports nothing, so `run.ts` stays light.

export const EXIT = {
  /** Success. */
  ok: 0,
  /** An unexpected failure (the message says what). */
  failure: 1,
  /** `pull` found nothing claimable (also after `--wait`); stdout still has `{ "items": [] }`. */
  nothingToPull: 3,
  /** The doc, topic, token or collection does not exist (`not_found`, `collection_not_found`). */
  notFound: 4,
  /** The doc moved on: `lease_lost`, `already_finished`, `idempotency_conflict`, `id_conflict`. */
  conflict: 5,
  /** EX_USAGE: unknown command or option, a missing or malformed argument, input the API refuses (4xx). */
  usage: 64,
  /** EX_UNAVAILABLE: a needed service cannot be used (the server, the database file, a port in use). */
  unavailable: 69,
  /** EX_TEMPFAIL: try again later (`rate_limited`, `store_busy`, `too_many_streams`). */
  tempfail: 75,
  /** EX_NOPERM: `unauthorized` or `forbidden`. */
  noperm: 77,
  /** EX_CONFIG: a setting is invalid (the message names it). */
  config: 78,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const BY_CODE: Record<string, ExitCode> = {
  not_found: EXIT.notFound,
  collection_not_found: EXIT.notFound,
  lease_lost: EXIT.conflict,
  already_finished: EXIT.conflict,
  idempotency_conflict: EXIT.conflict,
  id_conflict: EXIT.conflict,
  unauthorized: EXIT.noperm,
  forbidden: EXIT.noperm,
  bad_signature: EXIT.noperm,
  rate_limited: EXIT.tempfail,
  store_busy: EXIT.tempfail,
  too_many_streams: EXIT.tempfail,
  network_error: EXIT.unavailable,
  store_closed: EXIT.unavailable,
  bad_response: EXIT.unavailable,
  stream_refused: EXIT.unavailable,
  stream_ended: EXIT.unavailable,
  unavailable: EXIT.unavailable,
  schema_too_new: EXIT.config,
  config_invalid: EXIT.config,
  internal_error: EXIT.failure,
};

/** Codes of 4xx answers the caller can fix by changing the command line (EX_USAGE). */
const USAGE_CODES = new Set([
  'usage',
  'remote_unsupported',
  'validation_failed',
  'invalid_name',
  'unknown_parameter',
  'bad_filter',
  'bad_search_syntax',
  'out_of_range',
  'bad_cursor',
  'bad_retention',
  'json_too_deep',
  'token_required',
  'payload_too_large',
  'unsupported_media_type',
  'method_not_allowed',
]);

/**
 * The exit code for an error `code` (an API code, a client code or one of the CLI's own).
 * Unknown codes, such as ones a newer server adds, are a plain failure (1).
 */
export function exitCodeFor(code: string): ExitCode {
  return BY_CODE[code] ?? (USAGE_CODES.has(code) ? EXIT.usage : EXIT.failure);
}
