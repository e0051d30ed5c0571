// SPDX-License-Identifier: GPL-3.0-or-later
// `mode=simple` search: any user text becomes an FTS5 expression that cannot be a syntax error
// (DESIGN §4, search row).
//
// Why no input can fail: the output only ever has the shape
//   phrase ( " AND " phrase )*      where   phrase = '"' word '"' [ ' *' ]
// and `word` is a run of letters, digits, private-use characters and non-spacing marks (it can
// never contain `"`, NUL, whitespace or any other punctuation). In FTS5's grammar a double-quoted
// string is always a valid phrase, `phrase *` is a valid prefix phrase, and `AND` between two
// phrases is valid. A phrase whose text the tokenizer turns into zero tokens (say, letters newer
// than the tokenizer's Unicode 6.1 tables) matches nothing; it is not an error. NUL is the one
// character that breaks a quoted FTS5 string (the parser stops there), and it is not a word char.
// The fast-check test in test/search/ runs thousands of hostile inputs through a real MATCH.

/** At most this many words of a simple query are used; the rest are ignored. */
export const MAX_SIMPLE_TOKENS = 32;

/** One word of a query, as the snippet cutter needs it. */
export interface QueryTerm {
  /** The word as the user typed it (not case-folded). */
  text: string;
  /** The user ended it with `*`: it matches words starting with it. */
  prefix: boolean;
}

// What `unicode61` treats as token characters, checked against SQLite 3.53 with fts5vocab:
// categories L*, N* and Co, plus non-spacing marks (Mn) inside a word (with remove_diacritics 2
// they are folded away). `_` (Pc), spacing marks (Mc), emoji (So) and format characters (Cf) are
// separators, so `foo_bar` is two words here as it is in the index. A word must start with a
// letter, digit or private-use char: a stray leading mark would otherwise make an empty phrase
// and an AND with an empty phrase matches nothing.
const WORD = /[\p{L}\p{N}\p{Co}][\p{L}\p{N}\p{Co}\p{Mn}]*(\*)?/gu;

/**
 * The words of a simple query, in order, without duplicates, at most MAX_SIMPLE_TOKENS.
 *
 * @example
 * simpleTerms('deploy fail* "prod"') // [{text:'deploy',prefix:false},{text:'fail',prefix:true},{text:'prod',prefix:false}]
 */
export function simpleTerms(text: string): QueryTerm[] {
  const terms: QueryTerm[] = [];
  const seen = new Set<string>();
  for (const match of text.matchAll(WORD)) {
    const prefix = match[1] !== undefined;
    const word = prefix ? match[0].slice(0, -1) : match[0];
    const key = `${prefix ? '*' : ' '}${word}`;
    if (seen.has(key)) continue;
    seen.add(key);
    terms.push({ text: word, prefix });
    if (terms.length >= MAX_SIMPLE_TOKENS) break;
  }
  return terms;
}

/**
 * Turn any user text into a safe FTS5 MATCH expression: every word quoted, all words required.
 * A word typed with a trailing `*` becomes a prefix query. Returns undefined when the text has no
 * words at all (the search then answers no items, not an error).
 *
 * @example
 * toSimpleQuery('deploy fail* OR "x"') // '"deploy" AND "fail" * AND "OR" AND "x"'
 */
export function toSimpleQuery(text: string): string | undefined {
  const terms = simpleTerms(text);
  if (terms.length === 0) return undefined;
  return terms.map((term) => (term.prefix ? `"${term.text}" *` : `"${term.text}"`)).join(' AND ');
}

// FTS5 keywords are case-sensitive: only the upper-case spellings are operators.
const FTS_OPERATORS = new Set(['AND', 'OR', 'NOT', 'NEAR']);
// `word*` and `"word" *` are both prefix queries in FTS5.
const FTS_WORD = /[\p{L}\p{N}\p{Co}][\p{L}\p{N}\p{Co}\p{Mn}]*("?\s*\*)?/gu;

/**
 * Best-effort words of an `fts`-mode expression, for cutting snippets only: operators are
 * dropped, `word*` is a prefix. Column filters or NEAR distances may slip in; they only widen
 * what the snippet looks for.
 */
export function ftsTerms(expression: string): QueryTerm[] {
  const terms: QueryTerm[] = [];
  for (const match of expression.matchAll(FTS_WORD)) {
    const star = match[1];
    const prefix = star !== undefined;
    const word = star === undefined ? match[0] : match[0].slice(0, match[0].length - star.length);
    if (FTS_OPERATORS.has(word)) continue;
    terms.push({ text: word, prefix });
    if (terms.length >= MAX_SIMPLE_TOKENS) break;
  }
  return terms;
}
