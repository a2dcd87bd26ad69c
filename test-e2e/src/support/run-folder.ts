/** Reading what a run folder holds, for tests that compare a receiver against it. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `folder`, recursively. */
export function filesUnder(folder: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) files.push(...filesUnder(path));
    else files.push(path);
  }
  return files;
}

/** The metric TSVs of a run folder: series name → rows (step, value), in file order. */
export function runFolderMetrics(
  runFolder: string,
): Map<string, Array<{ step: number; value: number }>> {
  const metricsFolder = join(runFolder, 'plots', 'metrics');
  const series = new Map<string, Array<{ step: number; value: number }>>();
  for (const file of filesUnder(metricsFolder)) {
    const name = file
      .slice(metricsFolder.length + 1, -'.tsv'.length)
      .split('\\')
      .join('/');
    const [, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
    series.set(
      name,
      lines.map((line) => {
        const [, step, value] = line.split('\t');
        return { step: Number(step), value: Number(value) };
      }),
    );
  }
  return series;
}
