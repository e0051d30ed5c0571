// SPDX-License-Identifier: GPL-3.0-or-later
// Exit codes, from BSD sysexits(3) so scripts and service managers can tell a usage mistake from
// a bad configuration from a missing service without parsing messages.

export const EXIT = {
  /** Success. */
  ok: 0,
  /** An unexpected failure (the message says what). */
  failure: 1,
  /** EX_USAGE: unknown command or option, missing argument. */
  usage: 64,
  /** EX_UNAVAILABLE: a needed service cannot be used (the Postgres store, a port in use). */
  unavailable: 69,
  /** EX_CONFIG: a setting is invalid (the message names it). */
  config: 78,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
