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

/** Look-alike → Latin letter, by UTF-16 code unit (every entry is in the BMP). */
export const CONFUSABLES: ReadonlyMap<number, string> = new Map(PAIRS.map(([k, v]) => [k.charCodeAt(0), v]));

/** Whether a code unit is in the Greek, Cyrillic or odd-Latin ranges the table covers. */
export function maybeConfusable(code: number): boolean {
  return (code >= 0x0250 && code <= 0x058f) || (code >= 0x1d00 && code <= 0x1d2b) || code === 0xa731 || code === 0x0131 || code === 0x0237;
}
