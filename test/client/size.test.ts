// SPDX-License-Identifier: GPL-3.0-or-later
// The browser budget of @dualstore/sse-client, as part of `pnpm test`: its entry bundled by
// esbuild for a browser (minified ESM) imports no Node built-in and is at most 6 KiB min+gzip.

import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs script without type declarations; its shape is checked below.
import { CLIENT_SIZE_BUDGET, checkClientSize } from '../../scripts/check-client-size.mjs';

describe('@dualstore/sse-client browser bundle', () => {
  it('imports no Node built-in and fits 6 KiB min+gzip', async () => {
    const result = (await checkClientSize()) as {
      gzipBytes: number;
      nodeImports: string[];
      problems: string[];
      code: string;
    };
    expect(result.nodeImports).toEqual([]);
    expect(result.gzipBytes).toBeLessThanOrEqual(CLIENT_SIZE_BUDGET);
    expect(result.problems).toEqual([]);
    // Type-only imports of core must vanish: no zod (or any core code) in the bundle.
    expect(result.code).not.toMatch(/zod|ZodError/);
  });
});
