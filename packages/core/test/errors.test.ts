// SPDX-License-Identifier: GPL-3.0-or-later
// The error registry is API: every code is documented in docs/errors.md, every documented code
// exists, and no retired code comes back.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, RETIRED_CODES } from '../src/index.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const documented = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);

describe('error registry', () => {
  it('every code has an HTTP status, a title and a fix', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[a-z][a-z_]*$/);
      expect(spec.status >= 400 && spec.status <= 599, code).toBe(true);
      expect(spec.title.length, code).toBeGreaterThan(3);
      expect(spec.fix.length, code).toBeGreaterThan(3);
    }
  });

  it('docs/errors.md lists exactly the registry, both ways', () => {
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('retired codes are not reused', () => {
    for (const code of RETIRED_CODES) expect(Object.hasOwn(ERROR_CODES, code)).toBe(false);
  });
});
