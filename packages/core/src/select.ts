// SPDX-License-Identifier: GPL-3.0-or-later
// In-memory evaluation of a DocSelector, shared by stores (feed pages) and the SSE hub (live
// events), so catch-up and live delivery apply exactly the same rules.

import type { Doc } from './doc.js';
import { normalizeMention } from './extract.js';
import { matchesFilter } from './filter.js';
import type { DocSelector } from './store.js';

/** True when `doc` satisfies every condition of `selector`. */
export function matchesSelector(doc: Doc, selector: DocSelector): boolean {
  if (selector.topic !== undefined && doc.topic !== selector.topic) return false;
  if (selector.status !== undefined && doc.status !== selector.status) return false;
  if (selector.mention !== undefined && !doc.mentions.includes(normalizeMention(selector.mention))) return false;
  if (selector.tool !== undefined && !doc.tool_calls.includes(selector.tool.toLowerCase())) return false;
  if (selector.filter !== undefined && !matchesFilter(doc, selector.filter)) return false;
  return true;
}

/** True when the selector has no conditions (every doc matches). */
export function isEmptySelector(selector: DocSelector): boolean {
  return (
    selector.topic === undefined &&
    selector.status === undefined &&
    selector.mention === undefined &&
    selector.tool === undefined &&
    (selector.filter === undefined || selector.filter.conditions.length === 0)
  );
}
