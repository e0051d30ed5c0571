// SPDX-License-Identifier: GPL-3.0-or-later
// A real browser: headless Chromium (Debian's, driven by playwright-core) loads a page from
// another origin that imports the esbuild browser bundle of the client, subscribes with the
// token — which the client trades for single-use tickets, so it never enters a URL — and shows
// docs inserted from Node, in order. The assertions read the page's DOM.

import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@dualstore/sse-client';
import { openSqliteStore } from '@dualstore/store-sqlite';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs script without type declarations.
import { bundleClient } from '../../scripts/check-client-size.mjs';
import { startServer, type TestServer } from '../helpers.js';
import { startRestartableServer } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';

/** What page-side callbacks read (the tests are compiled without the DOM library). */
interface PageGlobals {
  document: { querySelectorAll(selector: string): { length: number } };
}
const TOKEN = 'browser-test-token-0123456789';

const PAGE = (apiUrl: string) => `<!doctype html>
<meta charset="utf-8">
<title>DualStore live</title>
<ol id="docs"></ol>
<script type="module">
  import { createClient } from '/client.js';
  const list = document.getElementById('docs');
  window.errors = [];
  const client = createClient({ baseUrl: ${JSON.stringify(apiUrl)}, token: ${JSON.stringify(TOKEN)} });
  client.subscribe('events', {
    onOpen: () => { document.body.dataset.opened = String(Number(document.body.dataset.opened ?? 0) + 1); },
    onInsert: (doc, seq) => {
      const item = document.createElement('li');
      item.textContent = doc.text;
      item.dataset.seq = String(seq);
      list.append(item);
    },
    onError: (error, info) => window.errors.push([error.code, info.willRetry]),
  });
</script>`;

let api: TestServer;
let pages: Server;
let pageOrigin: string;
/** The API the page talks to; a test may point it at another server before loading the page. */
let apiUrl = '';
let browser: Browser;

beforeAll(async () => {
  const code = ((await bundleClient()) as { code: string }).code;
  pages = createServer((request, response) => {
    if (request.url === '/client.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
    } else if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE(apiUrl));
    } else {
      response.writeHead(404).end();
    }
  });
  pages.listen(0, '127.0.0.1');
  await new Promise((resolve) => pages.once('listening', resolve));
  pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
  // The page is on another origin than the API: CORS must allow it, exactly.
  api = await startServer({ authToken: TOKEN, corsOrigins: [pageOrigin], store: { search: false } });
  apiUrl = api.url;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => pages?.close(resolve));
  await api?.close();
});

describe.skipIf(!existsSync(CHROMIUM))('in Chromium', () => {
  it('shows docs inserted from Node, in order, over a ticket-authenticated stream', async () => {
    const page = await browser.newPage();
    const requests: { url: string; authorization: string | undefined }[] = [];
    page.on('request', (request) => {
      requests.push({ url: request.url(), authorization: request.headers().authorization });
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`http://127.0.0.1:${(pages.address() as AddressInfo).port}/`);
    await page.waitForSelector('body[data-opened="1"]', { state: 'attached', timeout: 15_000 });

    const node = createClient({ baseUrl: api.url, token: TOKEN });
    const texts = Array.from({ length: 8 }, (_, i) => `doc ${i} from node`);
    for (const text of texts) await node.insert('events', { text });
    // These callbacks run in the page; the tests are compiled without the DOM library, hence the casts.
    await page.waitForFunction(
      (n) => (globalThis as unknown as PageGlobals).document.querySelectorAll('#docs li').length >= n,
      texts.length,
      {
        timeout: 15_000,
      },
    );

    const shown = await page.$$eval('#docs li', (items) =>
      items.map((item) => ({
        text: item.textContent,
        seq: Number((item as unknown as { dataset: Record<string, string> }).dataset.seq),
      })),
    );
    expect(shown.map((item) => item.text)).toEqual(texts);
    const seqs = shown.map((item) => item.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(await page.evaluate(() => (globalThis as unknown as { errors: unknown[] }).errors)).toEqual([]);
    expect(pageErrors).toEqual([]);

    const streams = requests.filter((request) => request.url.includes('/stream'));
    expect(streams).toHaveLength(1);
    expect(new URL(streams[0]!.url).searchParams.get('ticket')).toMatch(/^dstk_/);
    expect(streams[0]!.authorization).toBeUndefined();
    // The long-lived token appears in no URL, only in the Authorization header of plain requests.
    expect(requests.filter((request) => request.url.includes(TOKEN))).toEqual([]);
    const ticketCall = requests.find((request) => request.url.endsWith('/v1/tickets'));
    expect(ticketCall?.authorization).toBe(`Bearer ${TOKEN}`);
    await page.close();
  }, 60_000);

  it('resumes across a server restart with a fresh ticket and `since`, losing and repeating nothing', async () => {
    const restartable = await startRestartableServer({ authToken: TOKEN, corsOrigins: [pageOrigin] });
    const previous = apiUrl;
    apiUrl = restartable.url;
    const page = await browser.newPage();
    try {
      const streams: string[] = [];
      page.on('request', (request) => {
        if (request.url().includes('/stream')) streams.push(request.url());
      });
      await page.goto(`${pageOrigin}/`);
      await page.waitForSelector('body[data-opened="1"]', { state: 'attached', timeout: 15_000 });
      const node = createClient({ baseUrl: restartable.url, token: TOKEN });
      const shownCount = (n: number) =>
        page.waitForFunction(
          (count) => (globalThis as unknown as PageGlobals).document.querySelectorAll('#docs li').length >= count,
          n,
          {
            timeout: 20_000,
          },
        );
      for (let i = 0; i < 3; i++) await node.insert('events', { text: `before ${i}` });
      await shownCount(3);

      await restartable.stop();
      const offline = await openSqliteStore({ path: restartable.path, search: false });
      for (let i = 0; i < 2; i++) await offline.insert('events', { text: `offline ${i}` });
      await offline.close();
      await restartable.start();
      await page.waitForSelector('body[data-opened="2"]', { state: 'attached', timeout: 20_000 });
      for (let i = 0; i < 2; i++) await node.insert('events', { text: `after ${i}` });
      await shownCount(7);

      const shown = await page.$$eval('#docs li', (items) =>
        items.map((item) => ({
          text: item.textContent,
          seq: Number((item as unknown as { dataset: Record<string, string> }).dataset.seq),
        })),
      );
      expect(shown.map((item) => item.text)).toEqual([
        'before 0',
        'before 1',
        'before 2',
        'offline 0',
        'offline 1',
        'after 0',
        'after 1',
      ]);
      const urls = streams.map((url) => new URL(url).searchParams);
      const tickets = urls.map((query) => query.get('ticket'));
      expect(new Set(tickets).size).toBe(tickets.length);
      // The reconnect that succeeded resumed right after the last doc shown before the restart.
      expect(urls.at(-1)?.get('since')).toBe(String(shown[2]!.seq));
    } finally {
      await page.close();
      apiUrl = previous;
      await restartable.close();
    }
  }, 90_000);
});
