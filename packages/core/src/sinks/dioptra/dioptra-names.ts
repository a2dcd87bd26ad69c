/**
 * livestep series names ↔ the metric names Dioptra takes (backends.md B.3: `^([A-Z]|[A-Z_][A-Z0-9_]+)$`,
 * case-insensitive: a letter or `_` first, then letters, digits and `_`, and never `_` alone).
 *
 * The series is the run folder's (`train/loss`, `train/precision/class=setosa`: labels as
 * `key=value` segments, metricSeriesName). The mapping is reversible (decodeDioptraName gives
 * the series back), so two series never land on one Dioptra name:
 *
 * - ASCII letters and digits stay as they are; `_` stays `_` when a letter follows it.
 * - `/` → `__`.
 * - `_` + a digit is an escape: `_0` a `_` not followed by a letter, `_1` space, `_2` `=`,
 *   `_3` `-`, `_4` `.`, `_5` `(`, `_6` `)`, `_7` `,`, `_8` `:`, and `_9` + six hex digits any
 *   other character (its code point), e.g. `%` → `_9000025`.
 * - A digit as the first character is written `_9` + its code point, as Dioptra wants a letter
 *   or `_` first.
 *
 *   train/loss            → train__loss
 *   val_loss              → val_loss
 *   top_5                 → top_05
 *   train/class=setosa    → train__class_2setosa
 *   step time (ms)        → step_1time_1_5ms_6
 *   1st/loss              → _9000031st__loss
 */

/** Dioptra's ALLOWED_METRIC_NAME_REGEX (dioptra src/dioptra/restapi/v1/jobs/schema.py). */
export const DIOPTRA_METRIC_NAME = /^([A-Z]|[A-Z_][A-Z0-9_]+)$/i;

/** Characters with a short escape: `_<digit>` (the digit is the index). `_9` is the long form. */
const SHORT_ESCAPES = ['_', ' ', '=', '-', '.', '(', ')', ',', ':'] as const;
const LONG_ESCAPE = '9';
const HEX_DIGITS = 6;

const isLetter = (character: string | undefined) =>
  character !== undefined && /^[A-Za-z]$/.test(character);
const isDigit = (character: string | undefined) =>
  character !== undefined && /^[0-9]$/.test(character);

function longEscape(character: string): string {
  return `_${LONG_ESCAPE}${(character.codePointAt(0) ?? 0).toString(16).padStart(HEX_DIGITS, '0')}`;
}

/** The Dioptra metric name of a livestep series name (see the top of this file). */
export function encodeDioptraName(series: string): string {
  const characters = Array.from(series);
  let name = '';
  for (const [index, character] of characters.entries()) {
    if (isLetter(character)) name += character;
    else if (isDigit(character)) name += index === 0 ? longEscape(character) : character;
    else if (character === '/') name += '__';
    else if (character === '_') name += isLetter(characters[index + 1]) ? '_' : '_0';
    else {
      const short = SHORT_ESCAPES.indexOf(character as (typeof SHORT_ESCAPES)[number]);
      name += short === -1 ? longEscape(character) : `_${short}`;
    }
  }
  return name;
}

/**
 * The livestep series name a Dioptra metric name stands for; throws on a name encodeDioptraName
 * never makes (one logged by something else).
 */
export function decodeDioptraName(name: string): string {
  let series = '';
  let index = 0;
  const fail = (why: string): never => {
    throw new TypeError(
      `livestep: "${name}" is not a name the Dioptra sink writes (${why} at ${index})`,
    );
  };
  while (index < name.length) {
    const character = name[index]!;
    if (character !== '_') {
      if (!isLetter(character) && !isDigit(character)) fail(`"${character}"`);
      if (index === 0 && isDigit(character)) fail('a digit first');
      series += character;
      index++;
      continue;
    }
    const next = name[index + 1];
    if (next === '_') {
      series += '/';
      index += 2;
    } else if (isLetter(next)) {
      series += '_';
      index++;
    } else if (next === LONG_ESCAPE) {
      const hex = name.slice(index + 2, index + 2 + HEX_DIGITS);
      if (!/^[0-9a-f]{6}$/i.test(hex)) fail('a short _9 escape');
      series += String.fromCodePoint(Number.parseInt(hex, 16));
      index += 2 + HEX_DIGITS;
    } else if (isDigit(next)) {
      series += SHORT_ESCAPES[Number(next)];
      index += 2;
    } else {
      fail('a lone "_"');
    }
  }
  return series;
}
