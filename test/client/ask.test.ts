// SPDX-License-Identifier: GPL-3.0-or-later
// client.ask(): durable request/reply. The reply comes from another OS process (a child running
// the client against the same server) and is delivered by the stream; a missing reply rejects
// with `timeout` and leaves no stream open.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createClient, type FetchLike, isDualStoreError } from '@dualstore/sse-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';

const REPLIER = fileURLToPath(new URL('./fixtures/replier.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let server: TestServer;
beforeEach(async () => {
  server = await startServer({ store: { search: false } });
});
afterEach(() => server.close());

describe('ask', () => {
  it('resolves with the reply another process writes', async () => {
    const child = spawn(
      process.execPath,
      ['--conditions=@dualstore/source', '--import', 'tsx', REPLIER, server.url, 'agent_tasks'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = once(child, 'exit');
    try {
      const client = createClient({ baseUrl: server.url });
      const reply = await client.ask('agent_tasks', { text: 'what is 6 x 7?' }, { timeoutMs: 20_000 });
      const [code] = await exited;
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      const askedId = stdout.trim();
      expect(reply).toMatchObject({ parent_id: askedId, correlation_id: askedId, text: 're: what is 6 x 7?' });
      expect(reply.metadata.pid).toBe(child.pid);
      expect((await client.get('agent_tasks', askedId)).status).toBe('completed');
    } finally {
      child.kill();
    }
  }, 30_000);

  it('rejects with timeout when nobody answers, and closes its stream', async () => {
    const streams: AbortSignal[] = [];
    const spy: FetchLike = (url, init) => {
      if (url.includes('/stream') && init.signal !== undefined) streams.push(init.signal);
      return globalThis.fetch(url, init);
    };
    const client = createClient({ baseUrl: server.url, fetch: spy });
    const error = await client.ask('agent_tasks', { text: 'anyone?' }, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(isDualStoreError(error) && error.code).toBe('timeout');
    expect(streams.length).toBeGreaterThan(0);
    expect(streams.every((signal) => signal.aborted)).toBe(true);
    // The request stays in the store: it is durable work, only the wait ended.
    expect((await client.stats('agent_tasks')).counts.pending).toBe(1);
  });

  it('rejects with the abort reason, and with the insert error (collection_not_found)', async () => {
    const client = createClient({ baseUrl: server.url });
    const reason = new Error('cancelled');
    const controller = new AbortController();
    const asking = client.ask('agent_tasks', { text: 'never mind' }, { signal: controller.signal });
    controller.abort(reason);
    await expect(asking).rejects.toBe(reason);
    await expect(client.ask('nope', { text: 'x' })).rejects.toMatchObject({ code: 'collection_not_found' });
  });

  it('a reply written before the stream connects is still delivered', async () => {
    // The reply lands between the insert and the stream's connect: the stream starts at the
    // insert's seq, so catch-up delivers it.
    const client = createClient({ baseUrl: server.url });
    let answered = false;
    const racing: FetchLike = async (url, init) => {
      if (url.includes('/stream') && !answered) {
        answered = true;
        const [item] = (await client.claim('agent_tasks', { agent: 'fast' })).items;
        await client.reply('agent_tasks', item!.doc.id, {
          text: 'instant',
          status: 'success',
          token: item!.claim.token,
        });
      }
      return globalThis.fetch(url, init);
    };
    const reply = await createClient({ baseUrl: server.url, fetch: racing }).ask(
      'agent_tasks',
      { text: 'quick?' },
      { timeoutMs: 5000 },
    );
    expect(reply.text).toBe('instant');
  });
});
