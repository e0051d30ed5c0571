// SPDX-License-Identifier: GPL-3.0-or-later
// Group commit on the HTTP path (issue 3 item 6): concurrent inserts from real sockets share
// transactions, and a 201 is sent only after the commit that holds the doc.

import { join } from 'node:path';
import { openSqliteStore } from '@dualstore/store-sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request, startServer, type TestServer } from '../helpers.js';

let server: TestServer;
beforeEach(async () => {
  server = await startServer({ store: { search: false } });
});
afterEach(() => server.close());

describe('group commit over HTTP', () => {
  it('answers 100 concurrent inserts 201 with fewer transactions than inserts, every 201 readable', async () => {
    const before = server.store.writeStats;
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => request(server, 'POST', '/v1/events', { body: { text: `doc ${i}` } })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(100).fill(201));
    const after = server.store.writeStats;
    expect(after.operations - before.operations).toBe(100);
    expect(after.transactions - before.transactions).toBeLessThan(100);
    // Each 201 names a doc that is there, read back through another connection of the server.
    const seqs = new Set<number>();
    for (const { body } of answers) {
      const doc = await request(server, 'GET', `/v1/events/${body.id}`);
      expect(doc.status).toBe(200);
      expect(doc.body.seq).toBe(body.seq);
      seqs.add(body.seq);
    }
    expect(seqs.size).toBe(100);
  });

  it('sends the 201 only after the commit: another connection already sees the doc when the answer arrives', async () => {
    // A second store on the same file reads only what has been committed (WAL snapshot).
    const reader = await openSqliteStore({ path: join(server.dir, 'db.sqlite'), search: false, collections: [] });
    try {
      const missing: string[] = [];
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const res = await request(server, 'POST', '/v1/events', { body: { text: `c ${i}` } });
          expect(res.status).toBe(201);
          if ((await reader.get('events', res.body.id)) === undefined) missing.push(res.body.id);
        }),
      );
      expect(missing).toEqual([]);
    } finally {
      await reader.close();
    }
  });
});
