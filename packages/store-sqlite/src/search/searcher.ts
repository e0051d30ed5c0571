// SPDX-License-Identifier: GPL-3.0-or-later
// The search projection's read side (DESIGN §3a.4–5): matches in the index file, then fetches
// the candidate docs from the main file with the caller's filter, keeping the index's order.
// Synchronous; searcher-worker.ts runs it off the event loop.
//
// The hot tier is one or two generations (index-schema.ts); the previous one holds only seqs
// below the current one's, so walking the current one then the previous one newest first is
// newest first overall.
// Relevance order ranks the newest HOT_LIMIT matches of the hot tier by bm25. The current
// generation usually has them all; when it has fewer (it started recently, or the word is rare)
// the rest come from the previous one, ranked by bm25 over that table: two scales, close for
// common words (both are samples of the same stream), and only until the current generation
// has HOT_LIMIT matches. bm25 costs a scan of every posting of a term in the table it runs on,
// so the previous generation is only ranked when the current one falls short. When those yield
// fewer than k docs after filtering and older docs exist outside the hot tier:
//   - the hot tier had fewer than HOT_LIMIT matches: the word is rare, so rank over the full
//     table instead;
//   - the hot tier was saturated (a common word and a narrow filter): continue with older
//     matches of the full table, newest first, rather than rank every match of a common word.
// Recent order walks matches newest first: the hot tier, then the full table below it.
// bm25 costs a scan of every posting of each term (FTS5 computes the IDF per query), so only
// the hot-tier rank and the rare-word fallback use it; matches walked newest first (recent
// order, and older matches of a saturated common word) get a term-frequency score instead.
// At most MAX_CANDIDATES matches are examined per search, so a narrow filter over a common word
// costs bounded work; docs past that point are not found.

import Database from 'better-sqlite3';
import { StatementCache } from '../statement-cache.js';
import { ftsTerms, type QueryTerm, simpleTerms, toSimpleQuery } from './fts-query.js';
import { fullTable, hotTable, META } from './index-schema.js';
import type { SearchAnswer, SearcherOptions, SearchRequest, SearchRowHit } from './protocol.js';
import { makeSnippet } from './snippet.js';

/** Newest hot-tier matches ranked by relevance. */
export const HOT_LIMIT = 1000;
/** Matches examined per search at most. */
export const MAX_CANDIDATES = 10_000;
const MAX_K = 50;
const MAX_CHUNK = 512;
const STATEMENT_CACHE = 128;
const BUSY_TIMEOUT_MS = 5000;

/** FTS5 refused an `fts`-mode query; `message` is SQLite's, without any SQL text. */
export class SearchSyntaxError extends Error {
  readonly code = 'bad_search_syntax';
  constructor(message: string) {
    super(message);
    this.name = 'SearchSyntaxError';
  }
}

interface Candidate {
  seq: number;
  /** bm25: lower is better; null when the match was not ranked (scored by term frequency). */
  rank: number | null;
}

interface CollectionRow {
  id: number;
  hot_gen: number;
  prev_gen: number | null;
  evicted_through: number;
}

// Failures of the machine, not of the query: these must not be reported as the user's syntax.
const ENVIRONMENT_ERRORS = /^SQLITE_(BUSY|LOCKED|IOERR|CORRUPT|NOMEM|FULL|CANTOPEN|INTERRUPT|READONLY|PERM|NOTADB)/;

export class Searcher {
  readonly #main: Database.Database;
  readonly #index: Database.Database;
  readonly #indexStatements: StatementCache;
  readonly #mainStatements: StatementCache;
  #closed = false;

  constructor(options: SearcherOptions) {
    this.#index = new Database(options.indexPath, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    try {
      this.#main = new Database(options.dbPath, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    } catch (error) {
      this.#index.close();
      throw error;
    }
    this.#indexStatements = new StatementCache(this.#index, STATEMENT_CACHE);
    this.#mainStatements = new StatementCache(this.#main, STATEMENT_CACHE);
  }

  /**
   * Run one search.
   * @throws SearchSyntaxError when FTS5 refuses an `fts`-mode expression.
   */
  search(request: SearchRequest): SearchAnswer {
    if (this.#closed) throw new Error('the searcher is closed');
    const simple = request.mode !== 'fts';
    const expression = simple ? toSimpleQuery(request.q) : request.q;
    const terms = simple ? simpleTerms(request.q) : ftsTerms(request.q);
    const k = Math.max(1, Math.min(MAX_K, Math.floor(request.k) || 1));
    // One read transaction on the index file: `indexed_through` describes exactly what matched.
    return this.#index.transaction((): SearchAnswer => {
      const indexedThrough =
        (
          this.#prepare(this.#index, 'SELECT value FROM meta WHERE key = ?').get(META.indexedThrough) as
            | { value: number }
            | undefined
        )?.value ?? 0;
      if (expression === undefined) return { hits: [], indexed_through: indexedThrough };
      const collection = this.#prepare(
        this.#index,
        'SELECT id, hot_gen, prev_gen, evicted_through FROM collections WHERE name = ?',
      ).get(request.collection) as CollectionRow | undefined;
      if (collection === undefined) return { hits: [], indexed_through: indexedThrough };
      const collector = new Collector(k, terms, (seqs) => this.#fetchDocs(request, seqs));
      const run = { expression, simple, collection };
      if (request.order === 'recent') this.#recent(run, collector);
      else this.#relevance(run, collector);
      return { hits: collector.hits, indexed_through: indexedThrough };
    })();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#indexStatements.clear();
    this.#mainStatements.clear();
    this.#main.close();
    this.#index.close();
  }

  #relevance(run: Run, collector: Collector): void {
    const { complete, below, saturated } = this.#hotMatches(run);
    collector.offerAll([...complete].sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0) || b.seq - a.seq));
    if (collector.full || below === 0) return;
    if (saturated) {
      // A common word and a narrow filter: older matches newest first, not a rank of them all.
      collector.offerStream(this.#fullBelow(run, below));
    } else {
      // The word is rare in the hot tier: rank every match in the full table on one scale.
      collector.reset();
      const table = fullTable(run.collection.id);
      const sql = `SELECT rowid AS seq, rank FROM ${table} WHERE ${table} MATCH ? ORDER BY rank LIMIT ?`;
      collector.offerStream(this.#matches(run, sql, [run.expression, MAX_CANDIDATES]));
    }
  }

  #recent(run: Run, collector: Collector): void {
    // Every doc after evicted_through is in the hot tier: walk its generations newest first,
    // lazily (the collector stops after k hits), then the full table below it.
    const boundary = run.collection.evicted_through + 1;
    for (const table of hotTables(run.collection)) {
      const sql = `SELECT rowid AS seq, NULL AS rank FROM ${table} WHERE ${table} MATCH ? AND rowid >= ? ORDER BY rowid DESC LIMIT ?`;
      collector.offerStream(this.#matches(run, sql, [run.expression, boundary, MAX_CANDIDATES]));
      if (collector.full) return;
    }
    if (boundary > 1) collector.offerStream(this.#fullBelow(run, boundary));
  }

  /**
   * The newest HOT_LIMIT matches of the hot tier (newest first, with their bm25 there), cut to
   * the range of seqs where they are all the collection's matches: every doc after
   * `evicted_through` is in the hot tier, but older ones in it may be separated from the newest
   * by a gap (docs a backlog skipped). `below`: matches with a smaller seq are only in the full
   * table (0: there are none). `saturated`: the word is common (HOT_LIMIT matches or more).
   */
  #hotMatches(run: Run): { complete: Candidate[]; below: number; saturated: boolean } {
    const hot: Candidate[] = [];
    for (const table of hotTables(run.collection)) {
      if (hot.length >= HOT_LIMIT) break;
      const sql = `SELECT rowid AS seq, rank FROM ${table} WHERE ${table} MATCH ? ORDER BY rowid DESC LIMIT ?`;
      hot.push(...this.#matches(run, sql, [run.expression, HOT_LIMIT - hot.length]));
    }
    const oldest = hot.at(-1);
    const saturated = hot.length >= HOT_LIMIT && oldest !== undefined;
    // Saturated: older matches may exist even where the hot tier is complete.
    const boundary = Math.max(run.collection.evicted_through + 1, saturated ? oldest.seq : 0);
    const complete = hot.filter((candidate) => candidate.seq >= boundary);
    return { complete, below: boundary > 1 ? boundary : 0, saturated };
  }

  #fullBelow(run: Run, below: number): Iterable<Candidate> {
    const table = fullTable(run.collection.id);
    const sql = `SELECT rowid AS seq, NULL AS rank FROM ${table} WHERE ${table} MATCH ? AND rowid < ? ORDER BY rowid DESC LIMIT ?`;
    return this.#matches(run, sql, [run.expression, below, MAX_CANDIDATES]);
  }

  /** Rows of a MATCH query, lazily; in `fts` mode FTS5's complaints become SearchSyntaxError. */
  *#matches(run: Run, sql: string, params: unknown[]): Generator<Candidate> {
    let rows: IterableIterator<unknown>;
    try {
      rows = this.#prepare(this.#index, sql).iterate(...params);
    } catch (error) {
      throw asSyntaxError(error, run.simple);
    }
    try {
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = rows.next();
        } catch (error) {
          throw asSyntaxError(error, run.simple);
        }
        if (next.done === true) return;
        yield next.value as Candidate;
      }
    } finally {
      // Ends the statement even when the caller stopped early, so the transaction can commit.
      rows.return?.();
    }
  }

  #fetchDocs(request: SearchRequest, seqs: readonly number[]): Map<number, Record<string, unknown>> {
    const sql = `SELECT docs.* FROM docs WHERE docs.seq IN (SELECT value FROM json_each(?)) AND docs.collection = ? AND (${request.filterSql.sql})`;
    const rows = this.#prepare(this.#main, sql).all(
      JSON.stringify(seqs),
      request.collection,
      ...request.filterSql.params,
    ) as Array<Record<string, unknown>>;
    return new Map(rows.map((row) => [row.seq as number, row]));
  }

  #prepare(db: Database.Database, sql: string): Database.Statement {
    return (db === this.#index ? this.#indexStatements : this.#mainStatements).get(sql);
  }
}

/** The live hot generations, newest first. */
function hotTables(collection: CollectionRow): string[] {
  const tables = [hotTable(collection.id, collection.hot_gen)];
  if (collection.prev_gen !== null) tables.push(hotTable(collection.id, collection.prev_gen));
  return tables;
}

interface Run {
  expression: string;
  simple: boolean;
  collection: CollectionRow;
}

function asSyntaxError(error: unknown, simple: boolean): unknown {
  if (simple || !(error instanceof Database.SqliteError) || ENVIRONMENT_ERRORS.test(error.code)) return error;
  return new SearchSyntaxError(error.message);
}

/** Turns ordered candidates into at most k hits, fetching docs in growing chunks. */
class Collector {
  hits: SearchRowHit[] = [];
  #seen = new Set<number>();
  #examined = 0;
  readonly #k: number;
  readonly #terms: readonly QueryTerm[];
  readonly #fetch: (seqs: readonly number[]) => Map<number, Record<string, unknown>>;

  constructor(
    k: number,
    terms: readonly QueryTerm[],
    fetch: (seqs: readonly number[]) => Map<number, Record<string, unknown>>,
  ) {
    this.#k = k;
    this.#terms = terms;
    this.#fetch = fetch;
  }

  get full(): boolean {
    return this.hits.length >= this.#k;
  }

  /** Start over with another candidate order. */
  reset(): void {
    this.hits = [];
    this.#seen.clear();
    this.#examined = 0;
  }

  offerAll(candidates: readonly Candidate[]): void {
    this.offerStream(candidates);
  }

  offerStream(candidates: Iterable<Candidate>): void {
    // The first chunk is k (unfiltered searches need no more); later ones grow, since a filter
    // that rejected the first chunk will likely reject many.
    let size = this.#k;
    let chunk: Candidate[] = [];
    for (const candidate of candidates) {
      if (this.#examined >= MAX_CANDIDATES) break;
      this.#examined += 1;
      if (this.#seen.has(candidate.seq)) continue;
      this.#seen.add(candidate.seq);
      chunk.push(candidate);
      if (chunk.length >= size) {
        this.#take(chunk);
        if (this.full) return;
        chunk = [];
        size = Math.min(MAX_CHUNK, size * 4);
      }
    }
    if (chunk.length > 0) this.#take(chunk);
  }

  #take(chunk: readonly Candidate[]): void {
    const rows = this.#fetch(chunk.map((candidate) => candidate.seq));
    for (const candidate of chunk) {
      const row = rows.get(candidate.seq);
      if (row === undefined) continue;
      const text = typeof row.text === 'string' ? row.text : '';
      // bm25 is "lower is better" and negative; the API promises "higher is better".
      const score = candidate.rank === null ? termFrequency(text, this.#terms) : -candidate.rank;
      this.hits.push({ row, score, snippet: makeSnippet(text, this.#terms) });
      if (this.full) return;
    }
  }
}

/** Occurrences of the query terms in `text`, case-insensitively: the score of an unranked match. */
export function termFrequency(text: string, terms: readonly QueryTerm[]): number {
  const haystack = text.toLowerCase();
  let count = 0;
  for (const term of terms) {
    const needle = term.text.toLowerCase();
    if (needle === '') continue;
    for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) count++;
  }
  return count;
}
