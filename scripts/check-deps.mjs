// SPDX-License-Identifier: GPL-3.0-or-later
// Enforces the dependency direction of DESIGN §1: core ← stores ← http ← cli;
// core ← sse-client ← cli, opencode-plugin, dashboard. A wrong arrow — in a package.json or in
// an import statement — fails `pnpm lint`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Which workspace packages each package may depend on. */
export const ALLOWED = {
  '@dualstore/core': [],
  '@dualstore/store-sqlite': ['@dualstore/core'],
  '@dualstore/store-postgres': ['@dualstore/core'],
  '@dualstore/http': ['@dualstore/core'],
  '@dualstore/sse-client': ['@dualstore/core'],
  '@dualstore/cli': [
    '@dualstore/core',
    '@dualstore/store-sqlite',
    '@dualstore/store-postgres',
    '@dualstore/http',
    '@dualstore/sse-client',
  ],
  '@dualstore/opencode-plugin': ['@dualstore/core', '@dualstore/sse-client'],
  '@dualstore/dashboard': ['@dualstore/core', '@dualstore/sse-client'],
};
/** Third-party runtime dependencies a package may have, where the design limits them. */
const EXTERNAL_ALLOWED = { '@dualstore/core': ['zod', 'uuidv7'] };
/** Packages that may import these workspace packages for types only (no runtime code). */
const TYPE_ONLY = { '@dualstore/sse-client': ['@dualstore/core'] };

const IMPORT =
  /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"](@dualstore\/[a-z-]+)[^'"]*['"]|import\(\s*['"](@dualstore\/[a-z-]+)/gm;

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|tsx|js|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

export function checkWorkspace(root) {
  const problems = [];
  const packagesDir = join(root, 'packages');
  for (const dir of readdirSync(packagesDir)) {
    const manifestPath = join(packagesDir, dir, 'package.json');
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    } catch {
      continue;
    }
    const name = manifest.name;
    const allowed = ALLOWED[name];
    if (!allowed) {
      problems.push(`${manifestPath}: ${name} is not in the dependency map of scripts/check-deps.mjs`);
      continue;
    }
    const deps = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies });
    for (const dep of deps) {
      if (dep.startsWith('@dualstore/') && !allowed.includes(dep)) {
        problems.push(`${manifestPath}: ${name} must not depend on ${dep} (DESIGN §1)`);
      }
    }
    const external = EXTERNAL_ALLOWED[name];
    if (external) {
      for (const dep of Object.keys(manifest.dependencies ?? {})) {
        if (!dep.startsWith('@dualstore/') && !external.includes(dep)) {
          problems.push(`${manifestPath}: ${name} may depend only on ${external.join(', ')}; found ${dep}`);
        }
      }
    }
    const srcDir = join(packagesDir, dir, 'src');
    let files = [];
    try {
      files = sourceFiles(srcDir);
    } catch {}
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(IMPORT)) {
        const target = match[3] ?? match[4];
        const typeOnly = Boolean(match[2]);
        if (target === name) continue;
        if (!allowed.includes(target)) {
          problems.push(`${file}: ${name} must not import ${target} (DESIGN §1)`);
        } else if (!deps.includes(target)) {
          problems.push(`${file}: imports ${target} but ${manifestPath} does not declare it`);
        } else if (TYPE_ONLY[name]?.includes(target) && !typeOnly) {
          problems.push(`${file}: ${name} may import ${target} for types only (use \`import type\`)`);
        }
      }
    }
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = checkWorkspace(process.cwd());
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) process.exit(1);
  console.log('dependency direction: ok');
}
