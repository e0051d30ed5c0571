// SPDX-License-Identifier: GPL-3.0-or-later
// A deterministic synthetic text corpus for search benchmarks. Words follow a Zipf distribution
// over a made-up vocabulary, as natural text does, so one corpus holds words of every document
// frequency: a few in most docs, a long tail in a handful. Frequencies are counted while the
// texts are generated, so the bench can pick a word per frequency band and report its real
// document frequency instead of a guess.

/** sfc32: small, fast, seedable; Math.random cannot be seeded and runs must be comparable. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

const CONSONANTS = 'bcdfghjklmnprstvwz';
const VOWELS = 'aeiou';

export interface CorpusOptions {
  seed?: number;
  vocabularySize?: number;
  /** Zipf exponent: the word of rank r has weight 1 / r^s. */
  exponent?: number;
  minWords?: number;
  maxWords?: number;
}

export interface BandWord {
  band: string;
  /** The query as typed: a word, or a prefix followed by `*`. */
  query: string;
  /** Docs containing it (for a prefix, any word with that prefix). */
  df: number;
}

export class Corpus {
  /** Words by rank: index 0 is the most frequent. */
  readonly words: string[];
  /** Docs generated so far. */
  docs = 0;
  readonly #rng: Rng;
  readonly #cdf: Float64Array;
  readonly #minWords: number;
  readonly #maxWords: number;
  readonly #df: Uint32Array;
  readonly #lastDoc: Int32Array;
  readonly #prefixes: string[];
  /** Bit i set: the word starts with #prefixes[i]. */
  readonly #prefixMask: Uint8Array;
  readonly #prefixDf: Uint32Array;

  constructor(options: CorpusOptions = {}) {
    this.#rng = new Rng(options.seed ?? 20_251_122);
    const size = options.vocabularySize ?? 50_000;
    this.#minWords = options.minWords ?? 16;
    this.#maxWords = options.maxWords ?? 24;
    this.words = makeVocabulary(size, this.#rng);
    const s = options.exponent ?? 1;
    this.#cdf = new Float64Array(size);
    let total = 0;
    for (let r = 0; r < size; r++) {
      total += 1 / (r + 1) ** s;
      this.#cdf[r] = total;
    }
    for (let r = 0; r < size; r++) this.#cdf[r] = (this.#cdf[r] as number) / total;
    this.#df = new Uint32Array(size);
    this.#lastDoc = new Int32Array(size).fill(-1);
    // Prefixes of a frequent and of a mid-frequency word: one 3-letter, one 4-letter, matching the
    // index's prefix='3 4' so both go through FTS5's prefix index.
    this.#prefixes = [(this.words[20] as string).slice(0, 3), (this.words[300] as string).slice(0, 4)];
    this.#prefixMask = new Uint8Array(size);
    this.words.forEach((word, id) => {
      this.#prefixes.forEach((prefix, bit) => {
        if (word.startsWith(prefix)) this.#prefixMask[id] = (this.#prefixMask[id] as number) | (1 << bit);
      });
    });
    this.#prefixDf = new Uint32Array(this.#prefixes.length);
  }

  /** The next doc's text: minWords..maxWords Zipf-distributed words separated by spaces. */
  next(): string {
    const doc = this.docs++;
    const count = this.#minWords + this.#rng.int(this.#maxWords - this.#minWords + 1);
    const parts = new Array<string>(count);
    let mask = 0;
    for (let i = 0; i < count; i++) {
      const id = this.#sample();
      parts[i] = this.words[id] as string;
      if (this.#lastDoc[id] !== doc) {
        this.#lastDoc[id] = doc;
        this.#df[id] = (this.#df[id] as number) + 1;
      }
      mask |= this.#prefixMask[id] as number;
    }
    for (let bit = 0; bit < this.#prefixes.length; bit++) {
      if (mask & (1 << bit)) this.#prefixDf[bit] = (this.#prefixDf[bit] as number) + 1;
    }
    return parts.join(' ');
  }

  /** Document frequency of a vocabulary word among the docs generated so far. */
  df(word: string): number {
    const id = this.words.indexOf(word);
    return id < 0 ? 0 : (this.#df[id] as number);
  }

  /**
   * The word whose document frequency (as a share of all docs) is closest to `share`, on a log
   * scale. Ties go to the more frequent rank, which is deterministic.
   */
  wordNear(band: string, share: number): BandWord {
    let best = 0;
    let bestDistance = Number.POSITIVE_INFINITY;
    const want = Math.log(Math.max(share * this.docs, 1));
    for (let id = 0; id < this.words.length; id++) {
      const df = this.#df[id] as number;
      if (df === 0) continue;
      const distance = Math.abs(Math.log(df) - want);
      if (distance < bestDistance) {
        best = id;
        bestDistance = distance;
      }
    }
    return { band, query: this.words[best] as string, df: this.#df[best] as number };
  }

  /** The two prefix queries (`abc*`, `abcd*`) with their document frequencies. */
  prefixQueries(): BandWord[] {
    return this.#prefixes.map((prefix, bit) => ({
      band: `prefix ${prefix.length} letters`,
      query: `${prefix}*`,
      df: this.#prefixDf[bit] as number,
    }));
  }

  #sample(): number {
    const u = this.#rng.next();
    let lo = 0;
    let hi = this.#cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * Distinct pronounceable lower-case ASCII words (so the unicode61 tokenizer keeps each one whole),
 * shorter for frequent ranks as in natural language, never shorter than 4 letters.
 */
function makeVocabulary(size: number, rng: Rng): string[] {
  const seen = new Set<string>();
  const words: string[] = [];
  while (words.length < size) {
    const rank = words.length;
    const syllables = rank < 200 ? 2 : rank < 5000 ? 3 : 3 + rng.int(2);
    let word = '';
    for (let i = 0; i < syllables; i++) {
      word += CONSONANTS[rng.int(CONSONANTS.length)];
      word += VOWELS[rng.int(VOWELS.length)];
    }
    if (rng.next() < 0.3) word += CONSONANTS[rng.int(CONSONANTS.length)];
    if (seen.has(word)) continue;
    seen.add(word);
    words.push(word);
  }
  return words;
}
