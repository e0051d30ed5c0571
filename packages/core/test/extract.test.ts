// SPDX-License-Identifier: GPL-3.0-or-later
import { describe, expect, it } from 'vitest';
import { extractMentions, extractToolCalls, normalizeMention } from '../src/index.js';

describe('extractMentions', () => {
  it('finds @names, lower-cased, once each, without trailing punctuation', () => {
    expect(extractMentions('hey @Alice and @bob, also @ALICE. Ping @team.lead-')).toEqual([
      'alice',
      'bob',
      'team.lead',
    ]);
  });

  it('ignores e-mail addresses and bare @', () => {
    expect(extractMentions('write to ann@example.com or @ alone or @@x')).toEqual([]);
  });

  it('accepts unicode names', () => {
    expect(extractMentions('merci @Zoë')).toEqual(['zoë']);
  });

  it('normalizeMention strips @ and case', () => {
    expect(normalizeMention('@Bob')).toBe('bob');
    expect(normalizeMention('bob')).toBe('bob');
  });
});

describe('extractToolCalls', () => {
  it('reads metadata.tool, tools, tool_calls[].name and .function.name', () => {
    const tools = extractToolCalls('', {
      tool: 'Bash',
      tools: ['read', 3, 'write'],
      tool_calls: [{ name: 'grep' }, { function: { name: 'web_fetch' } }, 'junk', null],
    });
    expect(tools.sort()).toEqual(['bash', 'grep', 'read', 'web_fetch', 'write']);
  });

  it('reads text patterns', () => {
    expect(extractToolCalls('ran tool: bash then tool_call=edit and <tool name="glob">', {}).sort()).toEqual([
      'bash',
      'edit',
      'glob',
    ]);
  });

  it('ignores names that are not tool-like', () => {
    expect(extractToolCalls('', { tool: 'has spaces in it', tools: [''] })).toEqual([]);
  });
});
