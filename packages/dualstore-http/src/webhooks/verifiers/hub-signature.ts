// SPDX-License-Identifier: GPL-3.0-or-later
// The `sha256=<hex>` HMAC header GitHub (`X-Hub-Signature-256`) and Bitbucket (`X-Hub-Signature`)
// both send: HMAC-SHA256 of the raw body with the shared secret, hex-encoded.
//
// Not `@octokit/webhooks-methods` `verify`, although it computes the same HMAC: it takes the body
// as a string (so bytes that are not valid UTF-8 would be re-encoded before hashing, and the
// check would no longer be on the raw bytes), compares hex text (so upper-case hex fails), and
// throws a TypeError for an empty body. Its `sign` is what the tests cross-check against.

import { badSignature, hmacSha256, matchesAny, requireHeader, sha256Hex, type VerifyInput } from './verifier.js';

const PREFIX = 'sha256=';

/** Check a `sha256=<hex>` header against every secret of the route. */
export function verifyHubSignature(input: VerifyInput, name: string): void {
  const value = requireHeader(input.headers, name).trim();
  if (!value.startsWith(PREFIX)) {
    // `sha1=` is what GitHub's older X-Hub-Signature carries: SHA-1 is not accepted here.
    throw badSignature(`the ${name} header must be "sha256=<64 hex digits>"`);
  }
  const given = sha256Hex(value.slice(PREFIX.length));
  if (given === undefined) throw badSignature(`the ${name} header must be "sha256=<64 hex digits>"`);
  const expected = input.route.secrets.map((secret) => hmacSha256(secret, input.raw));
  if (!matchesAny(expected, [given])) throw badSignature(`the ${name} signature does not match the body`);
}

/** The `sha256=<hex>` value for `raw`, signed with the route's first secret. */
export function hubSignature(secret: string, raw: Buffer): string {
  return `${PREFIX}${hmacSha256(secret, raw).toString('hex')}`;
}
