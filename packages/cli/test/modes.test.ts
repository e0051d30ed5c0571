// SPDX-License-Identifier: GPL-3.0-or-later
// Every agent command in both modes against the same data: a real server over a SQLite file, the
// CLI in-process once with `--db <that file>` (local) and once with `--url <that server>`
// (remote). Reads must print identical JSON; writes, done once per mode on twin docs, must print
// the same JSON modulo ids, times and tokens; errors must carry the same code and exit code.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/index.js';
import { type CliResult, runCli, type SharedServer, startSharedServer } from './helpers.js';

let server: SharedServer;
beforeAll(async () => {
  server = await startSharedServer();
});
afterAll(async () => {
  await server?.close();
});

const local = (argv: string[], stdin?: string) =>
  runCli([...argv, '--db', server.db], stdin === undefined ? {} : { stdin });
const remote = (argv: string[], stdin?: string) =>
  runCli([...argv, '--url', server.url], stdin === undefined ? {} : { stdin });

/** Both modes, one after the other (local first). */
async function both(argv: string[]): Promise<[CliResult, CliResult]> {
  return [await local(argv), await remote(argv)];
}

/** Fields that differ between twin writes (ids, clocks, secrets, feed positions). */
const VOLATILE = new Set([
  'id',
  'seq',
  'timestamp',
  'lease_expires_at',
  'processed_at',
  'available_at',
  'created_at',
  'updated_at',
  'expires_at',
  'token',
  'correlation_id',
  'parent_id',
  'cursor',
  'last_seq',
  'indexed_through',
  'next',
]);

/** The value with volatile fields replaced by their type, so shapes and nullness still compare. */
function norm(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(norm);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key, VOLATILE.has(key) && v !== null ? `<${typeof v}>` : norm(v)]),
  );
}

function expectSameError(results: [CliResult, CliResult], code: string, exit: number) {
  for (const result of results) {
    expect(result.error).toBe(code);
    expect(result.code).toBe(exit);
    expect(result.stdout).toBe('');
  }
}

describe('collections and topics', () => {
  it('create and list collections the same way', async () => {
    const created: [CliResult, CliResult] = [
      await local(['collections', 'create', 'jobs_local']),
      await remote(['collections', 'create', 'jobs_remote']),
    ];
    for (const result of created) expect(result.code).toBe(EXIT.ok);
    expect(norm({ ...created[0].json, name: 'x' })).toEqual(norm({ ...created[1].json, name: 'x' }));
    const [l, r] = await both(['collections', 'list']);
    expect(l.json).toEqual(expect.arrayContaining(['events', 'jobs_local', 'jobs_remote']));
    expect(l.json).toEqual(r.json);
    // Updating settings is idempotent and prints the collection in both modes.
    const again = await both(['collections', 'create', 'jobs_local', '--max-attempts', '3']);
    expect(again[0].json.max_attempts).toBe(3);
    expect(again[0].json).toEqual(again[1].json);
  });

  it('create, set-prompt, list and delete topics the same way', async () => {
    const created: [CliResult, CliResult] = [
      await local(['topics', 'create', 'build-l', '--description', 'builds', '--prompt', 'You build.']),
      await remote(['topics', 'create', 'build-r', '--description', 'builds', '--prompt', 'You build.']),
    ];
    expect(norm({ ...created[0].json, name: 'x' })).toEqual(norm({ ...created[1].json, name: 'x' }));
    const prompts: [CliResult, CliResult] = [
      await remote(['topics', 'set-prompt', 'build-l', '-'], 'Build "it", carefully.'),
      await local(['topics', 'set-prompt', 'build-r', '-'], 'Build "it", carefully.'),
    ];
    expect(prompts[0].json.prompt).toBe('Build "it", carefully.');
    expect(prompts[0].json.description).toBe('builds');
    expect(norm({ ...prompts[0].json, name: 'x' })).toEqual(norm({ ...prompts[1].json, name: 'x' }));
    const [l, r] = await both(['topics', 'list']);
    expect(l.json.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['build-l', 'build-r']));
    expect(l.json).toEqual(r.json);
    const deleted: [CliResult, CliResult] = [
      await local(['topics', 'delete', 'build-l']),
      await remote(['topics', 'delete', 'build-r']),
    ];
    expect(deleted.map((d) => d.json)).toEqual([
      { deleted: true, name: 'build-l' },
      { deleted: true, name: 'build-r' },
    ]);
    expectSameError(await both(['topics', 'delete', 'build-l']), 'not_found', EXIT.notFound);
  });
});

describe('push, get, query, search, thread, stats', () => {
  it('push prints { id, seq } and get prints the same doc in both modes', async () => {
    const meta = '{"repo":"x","tool":"bash"}';
    const pushed: [CliResult, CliResult] = [
      await local(['push', 'review', '--body', 'please @Alice review', '--meta', meta, '--id', 'p-local']),
      await remote(['push', 'review', '--body', 'please @Alice review', '--meta', meta, '--id', 'p-remote']),
    ];
    expect(pushed.map((p) => p.json.id)).toEqual(['p-local', 'p-remote']);
    for (const p of pushed) expect(Object.keys(p.json).sort()).toEqual(['id', 'seq']);
    for (const id of ['p-local', 'p-remote']) {
      const [l, r] = await both(['get', id]);
      expect(l.json).toEqual(r.json);
      expect(l.json).toMatchObject({
        topic: 'review',
        mentions: ['alice'],
        tool_calls: ['bash'],
        metadata: { repo: 'x' },
      });
    }
    const docs = await both(['get', 'p-local']);
    const twin = await local(['get', 'p-remote']);
    expect(norm(docs[0].json)).toEqual(norm(twin.json));
  });

  it('--delay sets available_at; --body - reads stdin', async () => {
    const before = Date.now();
    const pushed: [CliResult, CliResult] = [
      await local(['push', 'later', '--delay', '10m', '--body', '-', '--id', 'd-local'], 'from stdin'),
      await remote(['push', 'later', '--delay', '10m', '--body', '-', '--id', 'd-remote'], 'from stdin'),
    ];
    for (const p of pushed) expect(p.code).toBe(EXIT.ok);
    for (const id of ['d-local', 'd-remote']) {
      const doc = (await local(['get', id])).json;
      expect(doc.text).toBe('from stdin');
      expect(Date.parse(doc.available_at)).toBeGreaterThanOrEqual(before + 600_000);
    }
    // Not due yet: nothing to pull on that topic, in both modes.
    const pulls = await both(['pull', 'later', '--claim', '--agent', '@bob']);
    for (const p of pulls) {
      expect(p.code).toBe(EXIT.nothingToPull);
      expect(p.json).toEqual({ items: [] });
    }
  });

  it('an idempotency key returns the first doc; another body with it is a conflict', async () => {
    const first = await local(['push', 'idem', '--body', 'one', '--idempotency-key', 'k1']);
    const repeats = await both(['push', 'idem', '--body', 'one', '--idempotency-key', 'k1']);
    for (const repeat of repeats) expect(repeat.json).toEqual(first.json);
    expectSameError(
      await both(['push', 'idem', '--body', 'two', '--idempotency-key', 'k1']),
      'idempotency_conflict',
      EXIT.conflict,
    );
  });

  it('query prints the same page in both modes for every selector', async () => {
    await local(['push', 'q', '--body', 'run @carol', '--meta', '{"tools":["grep"],"n":1}']);
    await remote(['push', 'q', '--body', 'plain', '--meta', '{"n":2}']);
    const selectors = [
      [],
      ['--mention', '@carol'],
      ['--tool-call', 'grep'],
      ['--status', 'pending'],
      ['--topic', 'q'],
      ['--filter', '{"metadata.n":{"$gte":2}}'],
      ['--limit', '2'],
    ];
    for (const selector of selectors) {
      const [l, r] = await both(['query', ...selector]);
      expect(l.code).toBe(EXIT.ok);
      expect(l.json).toEqual(r.json);
    }
    const mention = (await local(['query', '--mention', 'carol'])).json;
    expect(mention.items.map((d: { text: string }) => d.text)).toEqual(['run @carol']);
    const page = (await local(['query', '--limit', '1'])).json;
    const [l, r] = await both(['query', '--limit', '1', '--before', page.next]);
    expect(l.json).toEqual(r.json);
    expect(l.json.items[0].seq).toBeLessThan(page.items[0].seq);
  });

  it('search finds a just-pushed doc in both modes (read-your-writes) with the same hits', async () => {
    await local(['push', 's', '--body', 'the zanzibar deployment finished']);
    const [l, r] = await both(['search', 'zanzibar']);
    expect(l.code).toBe(EXIT.ok);
    expect(l.json.items.map((hit: { snippet: string }) => hit.snippet)).toEqual(['the zanzibar deployment finished']);
    expect(norm(l.json)).toEqual(norm(r.json));
    expect(l.json.items).toEqual(r.json.items);
    const recent = await both(['search', 'zanzibar', '--order', 'recent', '--k', '1', '--mode', 'fts']);
    expect(recent[0].json.items).toEqual(recent[1].json.items);
    expectSameError(await both(['search', 'AND OR (', '--mode', 'fts']), 'bad_search_syntax', EXIT.usage);
  });

  it('stats prints the same counts in both modes', async () => {
    const [l, r] = await both(['stats']);
    expect(l.json).toEqual(r.json);
    expect(l.json.collection).toBe('events');
  });

  it('--pretty renders a table in both modes', async () => {
    const [l, r] = await both(['query', '--topic', 'review', '--pretty']);
    expect(l.stdout).toBe(r.stdout);
    expect(l.stdout.split('\n')[0]).toMatch(/^seq\s+id\s+topic\s+status/);
  });
});

describe('work: pull, complete, fail, extend, release, reply, thread', () => {
  /** Push twin docs on a fresh topic and claim one in each mode. */
  async function claimTwins(topic: string) {
    await local(['push', topic, '--body', `${topic} one`]);
    await remote(['push', topic, '--body', `${topic} two`]);
    const claims: [CliResult, CliResult] = [
      await local(['pull', topic, '--claim', '--agent', '@worker']),
      await remote(['pull', topic, '--claim', '--agent', '@worker']),
    ];
    for (const c of claims) expect(c.code).toBe(EXIT.ok);
    expect(norm({ ...claims[0].json.items[0], doc: { ...claims[0].json.items[0].doc, text: '' } })).toEqual(
      norm({ ...claims[1].json.items[0], doc: { ...claims[1].json.items[0].doc, text: '' } }),
    );
    return claims.map((c) => ({ id: c.json.items[0].doc.id as string, token: c.json.items[0].claim.token as string }));
  }

  it('pull returns prompt + doc + claim token; complete finishes it; a second complete conflicts', async () => {
    await local(['topics', 'create', 'w1', '--prompt', 'Do the work.']);
    const [a, b] = await claimTwins('w1');
    const first = (await local(['get', a!.id])).json;
    expect(first).toMatchObject({ status: 'processing', claimed_by: 'worker' });
    const pulled = await local(['pull', 'w1', '--claim', '--agent', 'x']);
    expect(pulled.code).toBe(EXIT.nothingToPull);
    const done: [CliResult, CliResult] = [
      await local(['complete', a!.id, '--token', a!.token]),
      await remote(['complete', b!.id, '--token', b!.token]),
    ];
    expect(done[0].json.status).toBe('completed');
    expect(norm({ ...done[0].json, text: '' })).toEqual(norm({ ...done[1].json, text: '' }));
    expectSameError(
      [await local(['complete', a!.id, '--token', a!.token]), await remote(['complete', b!.id, '--token', b!.token])],
      'already_finished',
      EXIT.conflict,
    );
  });

  it('pull --wait long-polls until work arrives, in both modes', async () => {
    for (const [mode, topic] of [
      [local, 'wait-l'],
      [remote, 'wait-r'],
    ] as const) {
      const pulling = mode(['pull', topic, '--claim', '--agent', 'a', '--wait', '20s']);
      // Pushed by another store instance (local mode opens its own), as another process would.
      await local(['push', topic, '--body', 'arrived']);
      const pulled = await pulling;
      expect(pulled.code).toBe(EXIT.ok);
      expect(pulled.json.items[0].doc.text).toBe('arrived');
    }
  });

  it('prints the topic prompt with the claim', async () => {
    await local(['topics', 'create', 'w-prompt', '--prompt', 'Review carefully.']);
    await local(['push', 'w-prompt', '--body', 'x']);
    await remote(['push', 'w-prompt', '--body', 'y']);
    const claims = await both(['pull', 'w-prompt', '--claim', '--agent', 'a', '--limit', '1']);
    for (const c of claims) expect(c.json.items[0].prompt).toBe('Review carefully.');
  });

  it('a wrong token is lease_lost; fail, extend and release act the same in both modes', async () => {
    const [a, b] = await claimTwins('w2');
    expectSameError(
      [await local(['complete', a!.id, '--token', 'nope']), await remote(['complete', b!.id, '--token', 'nope'])],
      'lease_lost',
      EXIT.conflict,
    );
    const extended: [CliResult, CliResult] = [
      await local(['extend', a!.id, '--token', a!.token, '--lease', '10m']),
      await remote(['extend', b!.id, '--token', b!.token, '--lease', '10m']),
    ];
    for (const e of extended) expect(Date.parse(e.json.lease_expires_at)).toBeGreaterThan(Date.now() + 500_000);
    expect(norm({ ...extended[0].json, text: '' })).toEqual(norm({ ...extended[1].json, text: '' }));
    const failed: [CliResult, CliResult] = [
      await local(['fail', a!.id, '--token', a!.token, '--error', 'boom', '--retry-in', '1h']),
      await remote(['fail', b!.id, '--token', b!.token, '--error', 'boom', '--retry-in', '1h']),
    ];
    for (const f of failed) expect(f.json).toMatchObject({ status: 'pending', last_error: 'boom' });
    expect(norm({ ...failed[0].json, text: '' })).toEqual(norm({ ...failed[1].json, text: '' }));

    const [c, d] = await claimTwins('w3');
    const released: [CliResult, CliResult] = [
      await local(['release', c!.id, '--token', c!.token]),
      await remote(['release', d!.id, '--token', d!.token]),
    ];
    for (const r of released) expect(r.json).toMatchObject({ status: 'pending', attempts: 0, claimed_by: null });
    expect(norm({ ...released[0].json, text: '' })).toEqual(norm({ ...released[1].json, text: '' }));
  });

  it('reply finishes the original and thread shows both, the same in both modes', async () => {
    const [a, b] = await claimTwins('w4');
    const replies: [CliResult, CliResult] = [
      await local(['reply', a!.id, '--status', 'success', '--body', 'done', '--token', a!.token]),
      await remote(['reply', b!.id, '--status', 'success', '--body', 'done', '--token', b!.token]),
    ];
    expect(replies[0].json).toMatchObject({
      parent_id: a!.id,
      correlation_id: a!.id,
      status: 'completed',
      text: 'done',
    });
    expect(norm(replies[0].json)).toEqual(norm(replies[1].json));
    for (const { id } of [a!, b!]) {
      const [l, r] = await both(['thread', id]);
      expect(l.json).toEqual(r.json);
      expect(l.json.items.map((doc: { status: string }) => doc.status)).toEqual(['completed', 'completed']);
    }
    // A reply to pending work needs no token (it claims and completes it in one transaction).
    await local(['push', 'w5', '--body', 'q', '--id', 'pending-l']);
    await local(['push', 'w5', '--body', 'q', '--id', 'pending-r']);
    const direct: [CliResult, CliResult] = [
      await local(['reply', 'pending-l', '--status', 'failure', '--body', 'no']),
      await remote(['reply', 'pending-r', '--status', 'failure', '--body', 'no']),
    ];
    expect(norm(direct[0].json)).toEqual(norm(direct[1].json));
    expect((await remote(['get', 'pending-l'])).json.status).toBe('failed');
  });

  it('a processing doc answered without its token is token_required (usage) in both modes', async () => {
    const [a, b] = await claimTwins('w6');
    expectSameError(
      [
        await local(['reply', a!.id, '--status', 'success', '--body', 'x']),
        await remote(['reply', b!.id, '--status', 'success', '--body', 'x']),
      ],
      'token_required',
      EXIT.usage,
    );
  });
});

describe('tail and clean', () => {
  it('tail --since prints the same JSON Lines in both modes', async () => {
    const start = (await local(['query', '--limit', '1'])).json.cursor as number;
    await local(['push', 't', '--body', 'one']);
    await remote(['push', 't', '--body', 'two']);
    const argv = ['tail', 'events', '--since', String(start), '--count', '2', '--topic', 't'];
    const [l, r] = await both(argv);
    expect(l.code).toBe(EXIT.ok);
    expect(l.stdout).toBe(r.stdout);
    const lines = l.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => [line.event, line.doc.text])).toEqual([
      ['insert', 'one'],
      ['insert', 'two'],
    ]);
  });

  it('tail follows live changes until --count, in both modes', async () => {
    for (const mode of [local, remote]) {
      const tail = mode(['tail', 'events', '--count', '1', '--topic', 'live']);
      // The tail starts "now"; pushing until it prints covers the moment before it subscribed.
      let result: CliResult | undefined;
      void tail.then((r) => {
        result = r;
      });
      let n = 0;
      while (result === undefined) {
        await local(['push', 'live', '--body', `live ${n++}`]);
        await Promise.race([tail, new Promise((resolve) => setImmediate(resolve))]);
      }
      expect(result.code).toBe(EXIT.ok);
      const line = JSON.parse(result.stdout.trim());
      expect(line).toMatchObject({ event: 'insert', doc: { topic: 'live' } });
    }
  });

  it('tail stops on its signal with exit 0', async () => {
    const controller = new AbortController();
    const tail = runCli(['tail', '--db', server.db], { signal: controller.signal });
    controller.abort();
    expect((await tail).code).toBe(EXIT.ok);
  });

  it('clean deletes completed docs older than --older-than, the same in both modes', async () => {
    for (const mode of [local, remote]) {
      await mode(['collections', 'create', 'cleanme']);
      await mode(['push', 'c', '--body', 'x', '-c', 'cleanme']);
      const claim = (await mode(['pull', 'c', '--claim', '--agent', 'a', '-c', 'cleanme'])).json.items[0];
      await mode(['complete', claim.doc.id, '--token', claim.claim.token, '-c', 'cleanme']);
      await mode(['push', 'c', '--body', 'stays pending', '-c', 'cleanme']);
    }
    const [l, r] = [
      await local(['clean', '--older-than', '0s', '-c', 'cleanme']),
      await remote(['clean', '--older-than', '0s', '-c', 'cleanme']),
    ];
    expect(l.json).toEqual({ deleted: 2 });
    expect(r.json).toEqual({ deleted: 0 });
    const stats = await both(['stats', '-c', 'cleanme']);
    expect(stats[0].json.counts).toMatchObject({ pending: 2, completed: 0 });
    expect(stats[0].json).toEqual(stats[1].json);
    const any = await remote(['clean', '--older-than', '0s', '--status', 'any', '-c', 'cleanme']);
    expect(any.json).toEqual({ deleted: 2 });
  });
});

describe('errors', () => {
  it('answers the same codes and exit codes in both modes', async () => {
    expectSameError(await both(['get', 'no-such-doc']), 'not_found', EXIT.notFound);
    expectSameError(await both(['thread', 'no-such-doc']), 'not_found', EXIT.notFound);
    expectSameError(await both(['stats', '-c', 'nope']), 'collection_not_found', EXIT.notFound);
    expectSameError(await both(['push', 'x', '-c', 'nope']), 'collection_not_found', EXIT.notFound);
    expectSameError(await both(['query', '-c', 'Bad Name!']), 'invalid_name', EXIT.usage);
    expectSameError(await both(['query', '--filter', '{"$nope":1}']), 'bad_filter', EXIT.usage);
    expectSameError(await both(['push', 'bad topic', '--body', 'x']), 'validation_failed', EXIT.usage);
    expectSameError(await both(['push', 'x', '--meta', '{"a":1']), 'usage', EXIT.usage);
    expectSameError(await both(['push', 'x', '--meta', '[1]']), 'usage', EXIT.usage);
    expectSameError(await both(['push', 'x', '--delay', 'soon']), 'usage', EXIT.usage);
    expectSameError(await both(['pull', 'x', '--agent', 'a']), 'usage', EXIT.usage);
    expectSameError(await both(['pull', 'x', '--claim']), 'usage', EXIT.usage);
    expectSameError(await both(['query', '--status', 'done']), 'usage', EXIT.usage);
    expectSameError(await both(['query', '--limit', '500']), 'usage', EXIT.usage);
    expectSameError(await both(['complete', 'x']), 'usage', EXIT.usage);
    expectSameError(await both(['tail', '--since', 'yesterday']), 'usage', EXIT.usage);
  });

  it('answers bad flags with a JSON usage error and exit 64 before opening anything', async () => {
    for (const argv of [
      ['push', '--no-such-flag'],
      ['complete'],
      ['nonsense'],
      ['get', 'a', 'b'],
      ['query', '--limit'],
    ]) {
      const result = await runCli(argv, { env: { DUALSTORE_DB: '/nonexistent/dir/db.sqlite' } });
      expect(result.code).toBe(EXIT.usage);
      expect(result.error).toBe('usage');
    }
  });

  it('an unreachable server is network_error, exit 69 (also for tail, which must not hang)', async () => {
    for (const argv of [['stats'], ['tail'], ['push', 'x', '--body', 'y']]) {
      const result = await runCli([...argv, '--url', 'http://127.0.0.1:1']);
      expect(result.error).toBe('network_error');
      expect(result.code).toBe(EXIT.unavailable);
    }
  });

  it('a database file that cannot be opened is unavailable, exit 69', async () => {
    const result = await runCli(['stats', '--db', '/dev/null/db.sqlite']);
    expect([result.code, result.error]).toEqual([EXIT.unavailable, 'unavailable']);
  });

  it('--url and --db together are a usage error; a bad DUALSTORE_URL is a configuration error', async () => {
    expect((await runCli(['stats', '--url', server.url, '--db', server.db])).code).toBe(EXIT.usage);
    const bad = await runCli(['stats'], { env: { DUALSTORE_URL: 'ftp://x' } });
    expect(bad.code).toBe(EXIT.config);
    expect(bad.error).toBe('config_invalid');
  });

  it('reads DUALSTORE_URL and DUALSTORE_DB from the environment', async () => {
    const viaEnv: [CliResult, CliResult] = [
      await runCli(['stats'], { env: { DUALSTORE_DB: server.db } }),
      await runCli(['stats'], { env: { DUALSTORE_URL: server.url } }),
    ];
    expect(viaEnv[0].json).toEqual(viaEnv[1].json);
  });
});
