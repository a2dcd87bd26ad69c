/**
 * Options nobody reads: TypeScript refuses them, plain JavaScript passes them silently, and a
 * misspelt `classlabels` then evaluates with the default labels. These say so, with the option
 * that was probably meant.
 */

/** Edits (insert, delete, replace, swap) a misspelling may be from the option it was meant as. */
const MAX_SUGGESTION_DISTANCE = 2;

/**
 * Edits from one name to the other, case-insensitive (a wrong case counts as no edit), where
 * swapping two neighbouring letters is one edit (the optimal string alignment distance).
 */
function editDistance(left: string, right: string): number {
  const a = left.toLowerCase();
  const b = right.toLowerCase();
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, index) => index)];
  for (let row = 1; row <= a.length; row++) {
    const current = [row];
    for (let column = 1; column <= b.length; column++) {
      const same = a[row - 1] === b[column - 1];
      let distance = Math.min(
        rows[row - 1]![column]! + 1,
        current[column - 1]! + 1,
        rows[row - 1]![column - 1]! + (same ? 0 : 1),
      );
      if (row > 1 && column > 1 && a[row - 1] === b[column - 2] && a[row - 2] === b[column - 1]) {
        distance = Math.min(distance, rows[row - 2]![column - 2]! + 1);
      }
      current.push(distance);
    }
    rows.push(current);
  }
  return rows[a.length]![b.length]!;
}

/** The known option closest to `name`, when it is close enough to be a misspelling of it. */
export function closestOption(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * One message per option of `options` that is not in `known`: `livestep: evaluate() ignores the
 * option "classlabels", which it does not know; did you mean "classLabels"?`.
 */
export function unknownOptionMessages(
  options: object,
  known: readonly string[],
  caller: string,
): string[] {
  const messages: string[] = [];
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const suggestion = closestOption(name, known);
    messages.push(
      `livestep: ${caller} ignores the option ${JSON.stringify(name)}, which it does not know; ${
        suggestion === undefined
          ? `the options are ${known.join(', ')}`
          : `did you mean ${JSON.stringify(suggestion)}?`
      }`,
    );
  }
  return messages;
}
