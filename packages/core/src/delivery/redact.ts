/**
 * Secrets out of anything that will be shown (a warning, an error, a report): a server may echo
 * the token back in its answer, a URL may carry it. Every sink that holds a token redacts with
 * this before it cuts or quotes a text, so no cut can leave a piece of a token behind.
 */

/** What a secret becomes in a shown text. */
export const REDACTED = '[redacted]';

/** A function that replaces every occurrence of each secret given (empty ones are ignored). */
export function createRedactor(
  secrets: ReadonlyArray<string | undefined>,
): (text: string) => string {
  // Longest first, so a secret that contains another is replaced whole.
  const present = secrets
    .filter((secret): secret is string => typeof secret === 'string' && secret !== '')
    .sort((a, b) => b.length - a.length);
  if (present.length === 0) return (text) => text;
  return (text) => {
    let shown = text;
    for (const secret of present) shown = shown.split(secret).join(REDACTED);
    return shown;
  };
}
