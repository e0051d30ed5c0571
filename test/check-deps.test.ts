// SPDX-License-Identifier: GPL-3.0-or-later
// The dependency-direction check (DESIGN §1) must pass on this repo and catch a wrong arrow.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { checkWorkspace } from '../scripts/check-deps.mjs';

const check = checkWorkspace as (root: string) => string[];
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function workspace(packages: Record<string, { manifest: object; files?: Record<string, string> }>): string {
  const root = mkdtempSync(join(tmpdir(), 'dualstore-deps-'));
  dirs.push(root);
  for (const [dir, pkg] of Object.entries(packages)) {
    mkdirSync(join(root, 'packages', dir, 'src'), { recursive: true });
    writeFileSync(join(root, 'packages', dir, 'package.json'), JSON.stringify(pkg.manifest));
    for (const [file, text] of Object.entries(pkg.files ?? {}))
      writeFileSync(join(root, 'packages', dir, 'src', file), text);
  }
  return root;
}

describe('check-deps', () => {
  it('passes on this repository', () => {
    expect(check(join(import.meta.dirname, '..'))).toEqual([]);
  });

  it('catches core importing a store, an undeclared import, and a value import into the client', () => {
    const root = workspace({
      core: {
        manifest: { name: '@dualstore/core', dependencies: { zod: '1', lodash: '1' } },
        files: { 'a.ts': "import { x } from '@dualstore/store-sqlite';\n" },
      },
      'store-sqlite': {
        manifest: { name: '@dualstore/store-sqlite', dependencies: { '@dualstore/http': '1' } },
        files: { 'b.ts': "import { y } from '@dualstore/core';\n" },
      },
      'sse-client': {
        manifest: { name: '@dualstore/sse-client', dependencies: { '@dualstore/core': '1' } },
        files: { 'c.ts': "import { z } from '@dualstore/core';\nimport type { T } from '@dualstore/core';\n" },
      },
    });
    const problems = check(root);
    expect(problems.some((p) => p.includes('must not import @dualstore/store-sqlite'))).toBe(true);
    expect(problems.some((p) => p.includes('may depend only on zod, uuidv7; found lodash'))).toBe(true);
    expect(problems.some((p) => p.includes('must not depend on @dualstore/http'))).toBe(true);
    expect(problems.some((p) => p.includes('does not declare it'))).toBe(true);
    expect(problems.filter((p) => p.includes('for types only'))).toHaveLength(1);
  });
});
