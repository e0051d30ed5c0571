// SPDX-License-Identifier: GPL-3.0-or-later
// The exit codes are API: every one is documented in the CLI README and docs/agents.md, and every
// API error code has a deliberate exit code (only internal_error is a plain failure).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '@dualstore/core';
import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor } from '../src/index.js';
import { ROOT } from './helpers.js';

describe('exit codes', () => {
  it('give every API error code a deliberate exit code', () => {
    for (const code of Object.keys(ERROR_CODES)) {
      if (code === 'internal_error') expect(exitCodeFor(code)).toBe(EXIT.failure);
      else expect([code, exitCodeFor(code)]).not.toEqual([code, EXIT.failure]);
    }
    expect(exitCodeFor('a_code_from_a_newer_server')).toBe(EXIT.failure);
  });

  it('are each a row of the tables in the CLI README and docs/agents.md', () => {
    for (const file of ['packages/cli/README.md', 'docs/agents.md']) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const value of new Set(Object.values(EXIT)))
        expect([file, text.includes(`\n| ${value} |`)]).toEqual([file, true]);
    }
  });
});
