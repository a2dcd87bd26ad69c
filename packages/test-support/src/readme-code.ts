/** A README's examples, run by the tests as a reader would copy them. */
import { readFileSync } from 'node:fs';

/** The code of the first ```ts block after the heading line `heading` (e.g. `## Usage`). */
export function readmeCodeBlock(readmePath: string, heading: string): string {
  const text = readFileSync(readmePath, 'utf8');
  const at = text.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`${readmePath} has no heading ${JSON.stringify(heading)}`);
  const block = /```ts\n([\s\S]*?)```/.exec(text.slice(at));
  if (block === null) throw new Error(`${readmePath} has no ts block under ${heading}`);
  return block[1]!;
}
