/**
 * Keeps a run's entries in a dvc.yaml up to date the way DVCLive does (`metrics`, `params`,
 * `plots`, `artifacts`), while leaving the rest of the user's file as it was written: its
 * comments, key order, flow style and other stages. The `yaml` package's document API edits the
 * parsed document in place, so only the entries that change are printed anew.
 */
import YAML, { isMap, isSeq, type YAMLMap, type YAMLSeq } from 'yaml';

/** One entry of a `metrics`, `params` or `plots` list: a path, or `{ path: properties }`. */
export type DvcYamlEntry = string | Record<string, unknown>;

export interface DvcYamlRunEntries {
  metrics: DvcYamlEntry[];
  params: DvcYamlEntry[];
  plots: DvcYamlEntry[];
  artifacts: ReadonlyMap<string, { path: string; type: string }>;
}

export interface DvcYamlMergeOptions {
  /** True for a path (as dvc.yaml writes it) inside the run's folder: entries the run owns. */
  isRunPath: (path: string) => boolean;
  /**
   * Keep entries for the run's folder that this run does not write again (a resumed run keeps
   * the plots of its earlier part). False: the run's entries replace every earlier one.
   */
  keepEarlierRunEntries: boolean;
}

const LIST_KEYS = ['metrics', 'params', 'plots'] as const;

/** The path an entry names: the string itself, or the single key of `{ path: properties }`. */
export function dvcYamlEntryPath(entry: unknown): string | undefined {
  if (typeof entry === 'string') return entry;
  if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
    const [key] = Object.keys(entry);
    return key;
  }
  return undefined;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Returns the text of `existingText` (a dvc.yaml, or undefined for none) with the run's entries
 * merged in. Throws a SyntaxError naming the problem when the existing text is not valid YAML,
 * rather than overwriting a file the user is in the middle of editing.
 */
export function mergeDvcYaml(
  existingText: string | undefined,
  entries: DvcYamlRunEntries,
  options: DvcYamlMergeOptions,
): string {
  // Typed as a plain document: the parsed type forbids putting new (unparsed) nodes in it.
  const document: YAML.Document = YAML.parseDocument(existingText ?? '');
  if (document.errors.length > 0) {
    throw new SyntaxError(`dvc.yaml is not valid YAML (${document.errors[0]!.message})`);
  }
  if (document.contents === null) document.contents = document.createNode({});
  if (!isMap(document.contents)) {
    throw new SyntaxError('dvc.yaml does not hold a mapping at its top level');
  }

  for (const key of LIST_KEYS) {
    const ours = new Map<string, DvcYamlEntry>();
    for (const entry of entries[key]) ours.set(dvcYamlEntryPath(entry)!, entry);
    let list = document.get(key, true) as YAMLSeq | undefined;
    if (list !== undefined && !isSeq(list)) list = undefined;
    if (list === undefined) {
      if (ours.size === 0) continue;
      document.set(key, document.createNode([]));
      list = document.get(key, true) as YAMLSeq;
    }
    const placed = new Set<string>();
    for (let index = list.items.length - 1; index >= 0; index--) {
      const node = list.items[index];
      const value = YAML.isNode(node) ? node.toJSON() : node;
      const path = dvcYamlEntryPath(value);
      if (path === undefined || !options.isRunPath(path)) continue;
      const replacement = ours.get(path);
      if (replacement !== undefined && !placed.has(path)) {
        placed.add(path);
        if (!sameJson(value, replacement)) list.items[index] = document.createNode(replacement);
      } else if (replacement !== undefined || !options.keepEarlierRunEntries) {
        // A duplicate of an entry already placed, or an earlier run's entry a new run replaces.
        list.items.splice(index, 1);
      }
    }
    for (const [path, entry] of ours) {
      if (!placed.has(path)) list.items.push(document.createNode(entry));
    }
    if (list.items.length === 0) document.delete(key);
  }

  if (entries.artifacts.size > 0) {
    let artifacts = document.get('artifacts', true) as YAMLMap | undefined;
    if (artifacts === undefined || !isMap(artifacts)) {
      document.set('artifacts', document.createNode({}));
      artifacts = document.get('artifacts', true) as YAMLMap;
    }
    for (const [name, artifact] of entries.artifacts) {
      const current = artifacts.get(name, true);
      const value = YAML.isNode(current) ? current.toJSON() : current;
      if (!sameJson(value, artifact)) artifacts.set(name, document.createNode(artifact));
    }
  }
  return document.toString();
}
