// SPDX-License-Identifier: GPL-3.0-or-later
// What every verifier provides, and the helpers they share. A verifier checks a delivery's raw
// bytes against the route's secrets, knows where its provider puts the delivery id and the event
// name, and can sign a body the way its provider does (for `dualstore hooks test` and the tests).
// Comparisons are on decoded digest bytes of equal length with `timingSafeEqual`, so neither a
// wrong length nor letter case makes a comparison throw or leak.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { DualStoreError } from '@dualstore/core';
import type { WebhookRoute } from '../routes-file.js';

/** Request headers as Node hands them over: lower-case names. */
export type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface VerifyInput {
  route: WebhookRoute;
  /** The body exactly as received. */
  raw: Buffer;
  headers: Headers;
  /** The server clock, ms since the epoch. */
  nowMs: number;
}

export interface SignInput {
  route: WebhookRoute;
  raw: Buffer;
  nowMs: number;
  deliveryId: string | undefined;
}

export interface Verifier {
  /** @throws DualStoreError `bad_signature` when the delivery is not signed by one of the route's secrets. */
  verify(input: VerifyInput): void;
  /** The headers a sender of this kind adds for `raw`, signed with the route's first secret. */
  sign(input: SignInput): Record<string, string>;
  /** The provider's id of this delivery (a redelivery repeats it), when it sends one. */
  deliveryId(headers: Headers, payload: unknown): string | undefined;
  /** The provider's name for what happened (`push`, `repo:push`, `invoice.paid`), when it sends one. */
  event(headers: Headers, payload: unknown): string | undefined;
  /** Headers worth keeping in the stored doc's metadata (never a signature or secret). */
  keptHeaders: readonly string[];
}

/** One header's value; a repeated header (an array) counts as garbled. */
export function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** A string field of a JSON object payload. */
export function field(payload: unknown, name: string): string | undefined {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const value = (payload as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

export function badSignature(detail: string): DualStoreError {
  return new DualStoreError('bad_signature', detail);
}

export function hmacSha256(key: string | Uint8Array, ...parts: (string | Uint8Array)[]): Buffer {
  const hmac = createHmac('sha256', key);
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * The 32 digest bytes of a hex SHA-256 signature, or undefined when it is not exactly 64 hex
 * digits. Upper-case hex is accepted: it encodes the same bytes, and the bytes are what is
 * compared (docs/webhooks.md).
 */
export function sha256Hex(text: string): Buffer | undefined {
  return SHA256_HEX.test(text) ? Buffer.from(text, 'hex') : undefined;
}

/**
 * True when `given` equals any of `expected`. Every candidate is compared (no early exit), each
 * with `timingSafeEqual` on equal lengths, so the time says nothing about which one matched or
 * how much of a wrong one did.
 */
export function matchesAny(expected: readonly Buffer[], given: readonly Buffer[]): boolean {
  let found = false;
  for (const want of expected) {
    for (const got of given) {
      if (got.length === want.length && timingSafeEqual(got, want)) found = true;
    }
  }
  return found;
}

/** The signature header's value, or `bad_signature` naming it when it is missing. */
export function requireHeader(headers: Headers, name: string): string {
  const value = header(headers, name);
  if (value === undefined || value.length === 0) throw badSignature(`the ${name} header is missing`);
  return value;
}

/**
 * Throws `bad_signature` when a signed timestamp (seconds) is further than the route's tolerance
 * from the server clock, in either direction: an old one is a replay, a future one is a clock
 * problem or a delivery prepared for replay later.
 */
export function checkTimestamp(text: string, input: VerifyInput, name: string): number {
  if (!/^\d{1,15}$/.test(text)) throw badSignature(`the ${name} timestamp is not a number of seconds`);
  const seconds = Number(text);
  const skew = Math.abs(Math.floor(input.nowMs / 1000) - seconds);
  if (skew > input.route.toleranceS) {
    throw badSignature(
      `the ${name} timestamp is ${skew} s away from the server clock; the route accepts ${input.route.toleranceS} s`,
    );
  }
  return seconds;
}

/** The secret a signer uses: the route's first (the newest, during a rotation). */
export function signingSecret(route: WebhookRoute): string {
  const secret = route.secrets[0];
  if (secret === undefined) throw new Error(`webhook route ${route.name} has no secret to sign with`);
  return secret;
}
