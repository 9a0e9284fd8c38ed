/**
 * Cyrillic and Greek letters that look like Latin ones, folded to the lowercase Latin
 * letter they imitate. The list is deliberately small (the look-alikes attackers use in
 * practice); NFKC already folds fullwidth, mathematical and circled letters. Part of
 * the text featurizer's normalization: changing this table changes featurizer output,
 * so it needs a new featurizer version.
 */
const PAIRS: [string, string][] = [
  // Cyrillic lowercase
  ['а', 'a'], ['в', 'b'], ['е', 'e'], ['ё', 'e'], ['к', 'k'], ['м', 'm'], ['н', 'h'], ['о', 'o'], ['р', 'p'],
  ['с', 'c'], ['т', 't'], ['у', 'y'], ['х', 'x'], ['і', 'i'], ['ї', 'i'], ['ј', 'j'], ['ѕ', 's'], ['ԁ', 'd'],
  ['ԛ', 'q'], ['ԝ', 'w'], ['ӏ', 'l'], ['ь', 'b'], ['һ', 'h'], ['ү', 'y'], ['ɡ', 'g'], ['ո', 'n'], ['ս', 'u'],
  // Cyrillic uppercase
  ['А', 'a'], ['В', 'b'], ['Е', 'e'], ['Ё', 'e'], ['К', 'k'], ['М', 'm'], ['Н', 'h'], ['О', 'o'], ['Р', 'p'],
  ['С', 'c'], ['Т', 't'], ['У', 'y'], ['Х', 'x'], ['І', 'i'], ['Ї', 'i'], ['Ј', 'j'], ['Ѕ', 's'], ['Ԁ', 'd'],
  ['Ԛ', 'q'], ['Ԝ', 'w'], ['Ӏ', 'l'], ['Һ', 'h'], ['Ү', 'y'],
  // Greek lowercase
  ['α', 'a'], ['β', 'b'], ['ε', 'e'], ['η', 'n'], ['ι', 'i'], ['κ', 'k'], ['ν', 'v'], ['ο', 'o'], ['ρ', 'p'],
  ['τ', 't'], ['υ', 'u'], ['χ', 'x'], ['ω', 'w'], ['ϲ', 'c'], ['ϳ', 'j'],
  // Greek uppercase
  ['Α', 'a'], ['Β', 'b'], ['Ε', 'e'], ['Ζ', 'z'], ['Η', 'h'], ['Ι', 'i'], ['Κ', 'k'], ['Μ', 'm'], ['Ν', 'n'],
  ['Ο', 'o'], ['Ρ', 'p'], ['Τ', 't'], ['Υ', 'y'], ['Χ', 'x'], ['Ϲ', 'c'],
  // Latin odd ones that NFKC keeps
  ['ı', 'i'], ['ȷ', 'j'], ['ɑ', 'a'], ['ɩ', 'i'], ['ʀ', 'r'], ['ꜱ', 's'], ['ᴀ', 'a'], ['ᴄ', 'c'], ['ᴅ', 'd'],
  ['ᴇ', 'e'], ['ɢ', 'g'], ['ʜ', 'h'], ['ɪ', 'i'], ['ᴊ', 'j'], ['ᴋ', 'k'], ['ʟ', 'l'], ['ᴍ', 'm'], ['ɴ', 'n'],
  ['ᴏ', 'o'], ['ᴘ', 'p'], ['ᴛ', 't'], ['ᴜ', 'u'], ['ᴠ', 'v'], ['ᴡ', 'w'], ['ʏ', 'y'], ['ᴢ', 'z'],
];

/** Look-alike → Latin letter, by UTF-16 code unit (every entry is in the BMP). Featurizer v1's table: frozen. */
export const CONFUSABLES: ReadonlyMap<number, string> = new Map(PAIRS.map(([k, v]) => [k.charCodeAt(0), v]));

/**
 * Added in featurizer v2 (issue 9): Armenian look-alikes (օ U+0585 and friends) and more
 * IPA / Latin-extension letters. v1 keeps the table above unchanged, so packages trained
 * with v1 still see the features they were trained on.
 */
const PAIRS_V2: [string, string][] = [
  // Armenian
  ['օ', 'o'], ['Օ', 'o'], ['Ս', 'u'], ['հ', 'h'], ['ց', 'g'], ['զ', 'q'], ['ռ', 'n'],
  ['ա', 'w'], ['ք', 'p'], ['Լ', 'l'], ['լ', 'l'], ['Ո', 'n'], ['Տ', 's'], ['Հ', 'h'], ['ւ', 'l'], ['ɾ', 'r'],
  // Greek final sigma: what NFKC makes of the lunate sigma ϲ (U+03F2), a common c look-alike
  ['ς', 'c'],
  // IPA and Latin-extension letters (no language writes words in them: always disguise)
  ['ɛ', 'e'], ['ɜ', 'e'], ['ɘ', 'e'], ['ə', 'e'], ['ɐ', 'a'], ['ɒ', 'a'], ['ɔ', 'o'], ['ɵ', 'o'], ['ɦ', 'h'],
  ['ɱ', 'm'], ['ɳ', 'n'], ['ɲ', 'n'], ['ɭ', 'l'], ['ɫ', 'l'], ['ʂ', 's'], ['ʐ', 'z'], ['ʑ', 'z'], ['ɖ', 'd'],
  ['ʈ', 't'], ['ɓ', 'b'], ['ɗ', 'd'], ['ʋ', 'v'], ['ʌ', 'v'], ['ɯ', 'w'], ['ʍ', 'w'], ['ɥ', 'h'], ['ɟ', 'j'],
  ['ʝ', 'j'], ['ɻ', 'r'], ['ɽ', 'r'], ['ɹ', 'r'], ['ʁ', 'r'], ['ɸ', 'o'], ['ʊ', 'u'], ['ɨ', 'i'], ['ʉ', 'u'],
  ['ɕ', 'c'], ['ʙ', 'b'], ['ʛ', 'g'], ['ɠ', 'g'], ['ᴦ', 'r'], ['ᴨ', 'n'], ['ᴫ', 'n'],
  ['ᴆ', 'd'], ['ᴌ', 'l'], ['ᴓ', 'o'], ['ᴑ', 'o'], ['ᴒ', 'o'], ['ᴕ', 'o'], ['ᴗ', 'u'], ['ᴝ', 'u'],
  ['ᴞ', 'u'], ['ᴟ', 'm'], ['ᴈ', 'e'], ['ᴉ', 'i'], ['ᴚ', 'r'],
];

/** Featurizer v2's table: v1's and the additions. */
export const CONFUSABLES_V2: ReadonlyMap<number, string> = new Map([...PAIRS, ...PAIRS_V2].map(([k, v]) => [k.charCodeAt(0), v]));

/**
 * Look-alikes of v2 that are letters of no script people write words in (IPA, small
 * capitals, dotless i/j, Latin letters with hooks): folded wherever they appear, while
 * Cyrillic, Greek and Armenian ones are folded only inside Latin words or mostly-Latin
 * texts (so real Russian, Greek or Armenian text is kept).
 */
export function alwaysFold(code: number): boolean {
  return (code >= 0x0250 && code <= 0x02af) || (code >= 0x1d00 && code <= 0x1d2b) || code === 0xa731 || code === 0x0131 || code === 0x0237;
}

/** Whether a code unit is in the Greek, Cyrillic or odd-Latin ranges the table covers. */
export function maybeConfusable(code: number): boolean {
  return (code >= 0x0250 && code <= 0x058f) || (code >= 0x1d00 && code <= 0x1d2b) || code === 0xa731 || code === 0x0131 || code === 0x0237;
}
