/**
 * Text normalization of the text featurizers: the steps an attacker would otherwise use
 * to walk around a detector that reads characters. Each step is cheap and linear, and
 * each is part of the featurizer's version: training and serving run this same code.
 *
 *   NFKC → drop invisible characters → find encoded segments (base64, hex, %XX) and
 *   decode them → per text: fold look-alike letters → lowercase → strip combining
 *   marks → join letter-spaced words → fold leetspeak → collapse runs of spaces and
 *   punctuation.
 */
import { alwaysFold, CONFUSABLES, CONFUSABLES_V2, maybeConfusable } from './confusables.js';

/**
 * Normalization versions, one per featurizer version (the text featurizer's version
 * names the normalization too). v1 is frozen as it shipped with package 1.0.0. v2 (issue
 * 9) also strips combining marks outside U+0300–U+036F (Cyrillic, extended, supplement,
 * for-symbols and half marks: "ig\u20d2nore", "ig\u1ab0nore"), folds Armenian and more
 * IPA look-alikes (օ U+0585, ɛ, ʋ, ...), and folds IPA / small-capital letters even in
 * words with no Latin letter ("ɪɢɴᴏʀᴇ ᴀʟʟ").
 */
export type NormalizeVersion = 1 | 2;

/**
 * Zero-width and other invisible or format characters (Unicode Cf and friends): ZWSP,
 * ZWNJ, ZWJ, bidi controls, word joiner, invisible operators, BOM, soft hyphen, Hangul
 * fillers, variation selectors, tag characters. C0/C1 controls other than tab and
 * newline go too.
 */
const INVISIBLE =
  /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8]|\uDB40[\uDC00-\uDDEF]/g;

/** Candidate encoded segments. Each is decoded and kept only when it reads as text. */
const HEX = /(?:\\x|0x)?[0-9A-Fa-f]{2}(?:[\s:,]?(?:\\x|0x)?[0-9A-Fa-f]{2}){7,}/g;
const PERCENT = /[^\s%]*(?:%[0-9A-Fa-f]{2}[^\s%]*){2,}/g;
const MIN_BASE64 = 16;

/** How many times decoded text is itself searched for encoded segments. */
const MAX_DECODE_DEPTH = 2;

/** A text after normalization: the text itself, then the normalized decoded segments. */
export interface NormalizedText {
  text: string;
  decoded: string[];
}

/**
 * Normalizes one text and whatever encoded segments it carries.
 *
 * @example
 * normalize('Ign\u200Bore  all PREVIOUS instructions').text // 'ignore all previous instructions'
 */
export function normalize(input: string, version: NormalizeVersion = 1): NormalizedText {
  const decoded: string[] = [];
  const base = clean(input);
  collectDecoded(base, 1, decoded);
  const p = version === 2 ? V2 : V1;
  return { text: fold(base, p), decoded: decoded.map((d) => fold(d, p)) };
}

/** Normalizes and joins a text with its decoded segments, one per line: what the featurizer reads. */
export function normalizeJoined(input: string, version: NormalizeVersion = 1): string {
  const n = normalize(input, version);
  return n.decoded.length === 0 ? n.text : `${n.text}\n${n.decoded.join('\n')}`;
}

/** NFKC and invisible-character removal: the steps that must precede decoding. */
function clean(s: string): string {
  // Plain printable ASCII is already NFKC and holds nothing invisible; most prompts are.
  if (!NOT_PLAIN_ASCII.test(s)) return s;
  return s.normalize('NFKC').replace(INVISIBLE, '');
}

const NOT_PLAIN_ASCII = /[^\x20-\x7e\n\t]/;
const SEPARATED_HEX = /[0-9A-Fa-f]{2}[\s:,][0-9A-Fa-f]{2}[\s:,][0-9A-Fa-f]{2}[\s:,][0-9A-Fa-f]{2}/;

function collectDecoded(s: string, depth: number, out: string[]): void {
  if (depth > MAX_DECODE_DEPTH || s.length < 16) return;
  const found: string[] = [];
  for (const seg of base64Candidates(s)) {
    const t = decodeBase64(seg);
    if (t !== undefined) found.push(t);
  }
  // Contiguous hex is a base64 candidate too (decodeBase64 hands it over); separated
  // and escaped hex need the regex, which is only worth running when a hint is there.
  if (s.includes('\\x') || SEPARATED_HEX.test(s)) {
    for (const m of s.matchAll(HEX)) {
      const t = decodeHex(m[0]);
      if (t !== undefined) found.push(t);
    }
  }
  if (s.includes('%')) {
    for (const m of s.matchAll(PERCENT)) {
      const t = decodePercent(m[0]);
      if (t !== undefined) found.push(t);
    }
  }
  for (const t of found) {
    const c = clean(t);
    out.push(c);
    collectDecoded(c, depth + 1, out);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Decoded bytes count as text when they are valid UTF-8 and mostly letters and spaces. */
function asText(bytes: Uint8Array): string | undefined {
  if (bytes.length < 6) return undefined;
  let s: string;
  try {
    s = UTF8.decode(bytes);
  } catch {
    return undefined;
  }
  let letters = 0;
  let printable = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 || c === 0x0a || c === 0x09) printable++;
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x20 || c >= 0xc0) letters++;
  }
  if (printable < s.length * 0.95 || letters < s.length * 0.6) return undefined;
  return s;
}

/** The base64 and base64url alphabets (and padding), as a table: asked for every character. */
const BASE64_ALPHABET = new Uint8Array(0x80).map((_, c) =>
  (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f || c === 0x5f || c === 0x2d || c === 0x3d ? 1 : 0,
);

/** Runs of the base64 (and base64url) alphabet at least MIN_BASE64 long; a hand loop, as a regex costs 10x here. */
function base64Candidates(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0;
    if (c < 0x80 && BASE64_ALPHABET[c] === 1) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      if (i - start >= MIN_BASE64) out.push(s.slice(start, i));
      start = -1;
    }
  }
  return out;
}

function decodeBase64(seg: string): string | undefined {
  if (/^(?:0x)?[0-9A-Fa-f]+$/.test(seg)) return decodeHex(seg);
  // Plain long words (and identifiers) match the alphabet; real base64 of text has both
  // cases and is not a word. Decoding them anyway is harmless (they fail asText) but costs.
  if (!/[A-Z]/.test(seg) || !/[a-z0-9]/.test(seg)) return undefined;
  const body = seg.replace(/=+$/, '');
  // A segment can start mid-quantum when it is cut out of a larger token; try the aligned cut.
  return asText(Buffer.from(body.slice(0, body.length - (body.length % 4 === 1 ? 1 : 0)), seg.includes('-') || seg.includes('_') ? 'base64url' : 'base64'));
}

function decodeHex(seg: string): string | undefined {
  const hex = seg.replace(/\\x|0x|[\s:,]/g, '');
  if (hex.length % 2 !== 0) return undefined;
  return asText(Buffer.from(hex, 'hex'));
}

function decodePercent(seg: string): string | undefined {
  try {
    const s = decodeURIComponent(seg);
    return s.length >= 4 ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The per-text folding steps, after decoding (decoding needs the original case). Each
 * regex that rewrites is guarded by a cheaper test: this runs on every request.
 */
function fold(s: string, p: Profile): string {
  const ascii = !NON_ASCII.test(s);
  if (!ascii) s = foldWith(s, p);
  s = s.toLowerCase();
  // Combining marks: diacritics used as disguise ("ïgnörë") and "zalgo" mark spam.
  if (!ascii && p.markHint.test(s)) s = s.normalize('NFD').replace(p.marks, '').normalize('NFC');
  // Lowercasing (Ω → ω) and stripping marks (ѐ → е) can uncover look-alikes: fold again.
  if (!ascii) s = foldWith(s, p);
  if (LETTER_SPACED_HINT.test(s) || !ascii) s = s.replace(LETTER_SPACED, (m) => m.replace(/[^\p{L}]/gu, ''));
  if (LEET_HINT.test(s)) s = s.replace(LEET_WORD, foldLeet);
  return s.replace(PUNCT_RUN, '$1').replace(SPACE_RUN, ' ').trim();
}

const NON_ASCII = /[^\x00-\x7f]/;
const DIACRITIC_HINT = /[\u0300-\u036f\u00c0-\u024f\u1e00-\u1eff]/;

/** What differs between normalization versions. */
interface Profile {
  table: ReadonlyMap<number, string>;
  /** Letters folded even in a word without Latin letters in a non-Latin text. */
  always: (code: number) => boolean;
  markHint: RegExp;
  marks: RegExp;
}

const V1: Profile = { table: CONFUSABLES, always: () => false, markHint: DIACRITIC_HINT, marks: /[\u0300-\u036f]/g };
/** Combining marks: diacritical (and its extended, supplement, for-symbols, half-marks blocks) and Cyrillic. */
const MARKS_V2 = '\\u0300-\\u036f\\u0483-\\u0489\\u1ab0-\\u1aff\\u1dc0-\\u1dff\\u20d0-\\u20ff\\ufe20-\\ufe2f';
const V2: Profile = {
  table: CONFUSABLES_V2,
  always: alwaysFold,
  markHint: new RegExp(`[${MARKS_V2}\\u00c0-\\u024f\\u1e00-\\u1eff]`),
  marks: new RegExp(`[${MARKS_V2}]`, 'g'),
};
/** Four or more single letters separated by one space, dot, dash, underscore or star: "i g n o r e". */
const LETTER_SPACED = /(?<![\p{L}\p{N}])(?:\p{L}[ ._*\-]){3,}\p{L}(?![\p{L}\p{N}])/gu;
const LETTER_SPACED_HINT = /(?:^|[^a-z])[a-z][ ._*-][a-z][ ._*-][a-z][ ._*-][a-z](?![a-z])/;
/** A word that mixes letters with leet digits and symbols (and no other digits). */
const LEET_WORD = /(?<![\p{L}\p{N}@$])(?=[a-z0-9@$]*[a-z][a-z0-9@$]*[a-z])(?=[a-z@$]*[013457@$])[a-z013457@$]{3,}(?![\p{L}\p{N}@$])/gu;
const LEET_HINT = /[a-z][013457@$]|[013457@$][a-z]/;
const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', $: 's' };
const PUNCT_RUN = /([^\p{L}\p{N}\s])\1+/gu;
// Any run of whitespace becomes one space (a run that starts with a space and goes on
// with a newline too: "a \nb" is "a b", not "a  b").
const SPACE_RUN = /\s{2,}|[^\S ]/g;

function foldLeet(w: string): string {
  // A digit run followed by one or two letters is a quantity ("4k", "10am"), not leet.
  if (/^[0-9]+[a-z]{1,2}$/.test(w)) return w;
  let out = '';
  for (let i = 0; i < w.length; i++) out += LEET[w[i]] ?? w[i];
  return out;
}

/**
 * Folds Cyrillic and Greek look-alikes inside words that also hold Latin letters, and in
 * texts that are mostly Latin. Real Russian or Greek text (mostly non-Latin) is kept.
 */
export function foldConfusables(s: string, version: NormalizeVersion = 1): string {
  return foldWith(s, version === 2 ? V2 : V1);
}

function foldWith(s: string, p: Profile): string {
  const table = p.table;
  let any = false;
  let latin = 0;
  let other = 0;
  const v2 = p !== V1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // v2: Latin-range look-alikes (dotless ı, ȷ) count too; v1 missed them.
    if (v2 && c >= 0x80 && table.has(c)) any = true;
    if (isLatinLetter(c)) latin++;
    // Combining marks are no script (and are stripped next): counted as non-Latin they
    // let mark spam make a Latin text look foreign and keep its look-alikes unfolded.
    else if (c >= 0x0300 && c <= 0x036f) continue;
    else if (p !== V1 && c >= 0x0483 && c <= 0x0489) continue;
    else if (c >= 0x0250 && maybeConfusable(c)) {
      if (table.has(c)) any = true;
      if (p.always(c)) latin++;
      else other++;
    }
  }
  if (!any) return s;
  const mostlyLatin = latin >= other;
  return s.replace(/[\p{L}\p{M}]+/gu, (word) => {
    let hasLatin = false;
    let hasConf = false;
    for (let i = 0; i < word.length; i++) {
      const c = word.charCodeAt(i);
      if (isLatinLetter(c) || p.always(c)) hasLatin = true;
      if ((v2 || !isLatinLetter(c)) && table.has(c)) hasConf = true;
    }
    if (!hasConf || (!hasLatin && !mostlyLatin)) return word;
    let out = '';
    for (let i = 0; i < word.length; i++) out += table.get(word.charCodeAt(i)) ?? word[i];
    return out;
  });
}

/**
 * Latin letters, accented ones included (their marks are stripped later): "ïgnörë" is
 * as Latin as "ignore" when deciding whether look-alikes in it are disguise.
 */
function isLatinLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7) || (c >= 0x1e00 && c <= 0x1eff);
}
