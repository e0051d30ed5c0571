// SPDX-License-Identifier: GPL-3.0-or-later
// The SSE encoder against a reference parser of the WHATWG algorithm: any data survives (line
// breaks arrive as LF, as the spec defines), and fields that would break framing are refused.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeChange,
  encodeEvent,
  encodeHeartbeat,
  encodeReset,
  encodeRetry,
} from '../../packages/dualstore-http/src/sse/encode.js';
import { parseSse } from './sse-helpers.js';

/** Text that is mostly the parts that matter to SSE framing: line breaks, colons, spaces, NUL. */
const textWithBreaks = fc
  .array(fc.oneof(fc.constantFrom('\r', '\n', '\r\n', '\n\n', ':', ' ', '\0', 'data: x', 'é😀'), fc.string()))
  .map((parts) => parts.join(''));

describe('encodeEvent', () => {
  it('writes id, event and one data line per line of data, then a blank line', () => {
    expect(encodeEvent({ id: 7, event: 'insert', data: 'a\r\nb\rc\nd' })).toBe(
      'id: 7\nevent: insert\ndata: a\ndata: b\ndata: c\ndata: d\n\n',
    );
    expect(encodeEvent({ data: '' })).toBe('data: \n\n');
    expect(encodeEvent({ data: ' leading space' })).toBe('data:  leading space\n\n');
  });

  it('round-trips any data through a spec parser (CR and CRLF arrive as LF)', () => {
    fc.assert(
      fc.property(textWithBreaks, fc.nat(), (data, id) => {
        const { events } = parseSse(encodeEvent({ id, event: 'insert', data }));
        expect(events).toEqual([{ id: String(id), event: 'insert', data: data.replace(/\r\n|\r/g, '\n') }]);
      }),
    );
  });

  it('round-trips JSON exactly, whatever the strings inside contain', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const data = JSON.stringify(value);
        const { events } = parseSse(encodeEvent({ event: 'insert', data }));
        expect(events).toHaveLength(1);
        expect(events[0]?.data).toBe(data);
      }),
    );
  });

  it('refuses an id or event name that would end its line early', () => {
    for (const id of ['1\n2', '1\r', 'a\0b']) expect(() => encodeEvent({ id, data: 'x' })).toThrow(TypeError);
    for (const event of ['a\nb', 'a\rb']) expect(() => encodeEvent({ event, data: 'x' })).toThrow(TypeError);
  });
});

describe('stream frames', () => {
  it('starts with retry: 3000 and a blank line that dispatches nothing', () => {
    expect(encodeRetry()).toBe('retry: 3000\n\n');
    expect(parseSse(encodeRetry())).toEqual({ events: [], retry: [3000] });
  });

  it('encodes a delete with the change seq as id and the doc’s id and seq as data', () => {
    const frame = encodeChange({
      seq: 42,
      kind: 'delete',
      collection: 'events',
      at: '2026-01-01T00:00:00.000Z',
      deleted: { id: 'doc-1', seq: 7 },
    });
    expect(frame.toString()).toBe('id: 42\nevent: delete\ndata: {"id":"doc-1","seq":7}\n\n');
  });

  it('encodes reset with the restart position as id, and heartbeat without an id', () => {
    expect(encodeReset({ requested: 1, since: 9 }).toString()).toBe(
      'id: 9\nevent: reset\ndata: {"requested":1,"since":9}\n\n',
    );
    expect(encodeHeartbeat(new Date('2026-11-21T12:00:00.000Z')).toString()).toBe(
      'event: heartbeat\ndata: {"t":"2026-11-21T12:00:00.000Z"}\n\n',
    );
  });
});
