// SPDX-License-Identifier: GPL-3.0-or-later
// One place that talks HTTP: URLs, the bearer header, JSON bodies, and turning every failure into
// a DualStoreError. The REST methods, streams, workers and `ask` all go through it.

import { DualStoreError } from './errors.js';

/**
 * The part of `fetch` the client uses, as a structural type (like `eventsource`'s FetchLike), so
 * any fetch works: the platform's, undici's, or a test double.
 */
export type FetchLike = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    signal?: AbortSignal;
    cache?: 'no-store';
  },
) => Promise<ResponseLike>;

/** The part of a fetch `Response` the client reads. */
export interface ResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
}

/** Options every call accepts. */
export interface CallOptions {
  /** Aborts the call; it then rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** Query values; undefined ones are left out. */
export type Query = Record<string, string | number | undefined>;

export interface RequestInit {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

/** Connection settings shared by a client and everything it starts. */
export class Transport {
  readonly baseUrl: string;
  readonly token: string | undefined;
  readonly fetch: FetchLike;

  constructor(baseUrl: string, token: string | undefined, fetchLike: FetchLike | undefined) {
    // A trailing slash would double up with the routes' leading one.
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.token = token;
    // Bound: a browser's fetch throws "Illegal invocation" when called as a method of another object.
    this.fetch = fetchLike ?? (globalThis.fetch.bind(globalThis) as unknown as FetchLike);
  }

  /** `baseUrl` + path + the defined query values. */
  url(path: string, query?: Query): string {
    let url = this.baseUrl + path;
    let sep = '?';
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      url += `${sep}${encodeURIComponent(key)}=${encodeURIComponent(value)}`;
      sep = '&';
    }
    return url;
  }

  /** Headers with the bearer token (when set) and `extra`. */
  headers(extra?: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json', ...extra };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    return headers;
  }

  /**
   * Send a request and parse the JSON answer (undefined for 204).
   * @throws DualStoreError for any non-2xx answer, a network failure or a non-JSON answer.
   */
  async request<T>(method: string, path: string, init: RequestInit = {}): Promise<T> {
    const headers = this.headers(init.headers);
    let body: string | undefined;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] = 'application/json';
    }
    const response = await this.send(this.url(path, init.query), { method, headers, body, signal: init.signal });
    if (response.status === 204) return undefined as T;
    let text: string;
    try {
      text = await response.text();
    } catch (cause) {
      // The connection broke mid-body: as much "no answer" as a refused connection.
      if (init.signal?.aborted) throw init.signal.reason;
      throw new DualStoreError({ status: 0, code: 'network_error', detail: 'the answer was cut off', cause });
    }
    if (response.status >= 200 && response.status < 300) {
      try {
        return JSON.parse(text) as T;
      } catch (cause) {
        throw new DualStoreError({
          status: response.status,
          code: 'bad_response',
          detail: 'the answer is not JSON',
          cause,
        });
      }
    }
    throw problemError(response, text);
  }

  /** `fetch`, with a network failure turned into `network_error` and an abort left as it is. */
  async send(url: string, init: Parameters<FetchLike>[1]): Promise<ResponseLike> {
    if (init.signal?.aborted) throw init.signal.reason;
    try {
      return await this.fetch(url, init);
    } catch (cause) {
      if (init.signal?.aborted) throw init.signal.reason;
      throw new DualStoreError({ status: 0, code: 'network_error', detail: `no answer from ${this.baseUrl}`, cause });
    }
  }
}

/** The DualStoreError for a non-2xx answer: its problem+json fields, or `bad_response` when it has none. */
export function problemError(response: ResponseLike, text: string): DualStoreError {
  const retryAfter = Number(response.headers.get('retry-after'));
  const retryAfterMs = retryAfter >= 0 && response.headers.get('retry-after') !== null ? retryAfter * 1000 : undefined;
  let problem: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { code?: unknown }).code === 'string') {
      problem = parsed as Record<string, unknown>;
    }
  } catch {
    // Not JSON (a proxy's HTML page): reported as bad_response below.
  }
  if (problem === undefined) {
    return new DualStoreError({
      status: response.status,
      code: 'bad_response',
      detail: `HTTP ${response.status} without a problem+json body`,
      retryAfterMs,
    });
  }
  return new DualStoreError({
    status: response.status,
    code: problem.code as string,
    title: str(problem.title),
    detail: str(problem.detail),
    type: str(problem.type),
    errors: Array.isArray(problem.errors) ? problem.errors : undefined,
    retryAfterMs,
  });
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
