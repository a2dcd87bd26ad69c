// Vitest global setup for every package: the tests' temporary files (and those of the child
// processes they start, which inherit TMPDIR) go in one folder per test run, removed when the run
// ends, so running the suite does not leave thousands of folders in the system's temp directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup() {
  const previous = process.env.TMPDIR;
  const folder = mkdtempSync(join(tmpdir(), 'livestep-tests-'));
  process.env.TMPDIR = folder;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(folder, { recursive: true, force: true });
  };
}
