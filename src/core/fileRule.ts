// One rule for which plugin takes which file or folder, from the manifest's `file_types`: the explorer
// menu, the palette, the tree's Run on File… and `rpp run` all ask this file, so they always agree.
//   - no `file_types` (or an empty list): any file, no folder;
//   - extensions (".wav", ".tar.gz"): files whose name ends with one of them, case-insensitively;
//   - the word "folder": folders (alone, or beside extensions).
import path from 'node:path';

/** The `file_types` word for folders. */
export const FOLDER_TYPE = 'folder';

/** What a plugin is asked to run on: a file or a folder, by path. */
export interface RunTarget {
  path: string;
  isFolder: boolean;
}

/** A plugin as the rule sees it: its name and its normalised file types ([] = any file). */
export interface FileTaker {
  name: string;
  fileTypes: readonly string[];
}

export type Verdict = { takes: true } | { takes: false; reason: string };

/** ".WAV", "wav" and "*.wav" all mean ".wav"; "folder" (any case) means folders; undefined when the text cannot be either. */
export function normaliseFileType(text: string): string | undefined {
  const bare = text.trim().replace(/^\*?\.?/, '').toLowerCase();
  if (bare === FOLDER_TYPE && !text.trim().startsWith('.') && !text.trim().startsWith('*')) return FOLDER_TYPE;
  if (bare === '' || /[\s\\/*?]/.test(bare)) return undefined;
  return `.${bare}`;
}

/** Types as a manifest may write them (".WAV", "wav"), normalised; ones that mean nothing are dropped. */
function normalised(fileTypes: readonly string[]): string[] {
  return [...new Set(fileTypes.map(normaliseFileType).filter((type): type is string => type !== undefined))];
}

/** Whether a plugin with these file types takes the target, and if not, why (one sentence part, e.g. "it takes .wav .mp3, not .png"). */
export function takes(written: readonly string[], target: RunTarget): Verdict {
  const fileTypes = normalised(written);
  const extensions = fileTypes.filter((type) => type !== FOLDER_TYPE);
  const folders = fileTypes.includes(FOLDER_TYPE);
  if (target.isFolder) {
    return folders ? { takes: true } : { takes: false, reason: `it takes ${describeAccepted(fileTypes)}, not folders` };
  }
  if (fileTypes.length === 0) return { takes: true };
  if (extensions.length === 0) return { takes: false, reason: 'it takes folders only, not files' };
  const name = path.basename(target.path).toLowerCase();
  if (extensions.some((extension) => name.endsWith(extension))) return { takes: true };
  return { takes: false, reason: `it takes ${describeAccepted(fileTypes)}, not ${describeTarget(target)}` };
}

/** "any file", ".wav .mp3 files", "folders", ".txt files and folders". */
export function describeAccepted(written: readonly string[]): string {
  const fileTypes = normalised(written);
  const extensions = fileTypes.filter((type) => type !== FOLDER_TYPE);
  const folders = fileTypes.includes(FOLDER_TYPE);
  if (fileTypes.length === 0) return 'any file';
  if (extensions.length === 0) return 'folders';
  const files = `${extensions.join(' ')} files`;
  return folders ? `${files} and folders` : files;
}

/** What kind of input the target is, as a user would name it: ".png files", "files without an extension", "folders". */
export function describeTarget(target: RunTarget): string {
  if (target.isFolder) return 'folders';
  const extension = path.extname(target.path).toLowerCase();
  return extension === '' ? 'files without an extension' : `${extension} files`;
}

/** The plugins that take every target, in the order given. */
export function pluginsTaking<T extends FileTaker>(plugins: readonly T[], targets: readonly RunTarget[]): T[] {
  return plugins.filter((plugin) => targets.every((target) => takes(plugin.fileTypes, target).takes));
}

/** Among these files, the ones the plugin takes, in the order given (a batch over a folder or a selection). */
export function filesTaken(plugin: FileTaker, files: readonly string[]): string[] {
  return files.filter((file) => takes(plugin.fileTypes, { path: file, isFolder: false }).takes);
}

/**
 * Says why no plugin was offered: which input was rejected and which plugins take what, so the user
 * knows whether to pick another file or to add the type to a plugin's `file_types`.
 */
export function nothingTakesMessage(plugins: readonly FileTaker[], targets: readonly RunTarget[]): string {
  const rejected = targets.find((target) => !plugins.some((plugin) => takes(plugin.fileTypes, target).takes)) ?? targets[0];
  const shown = rejected ? `${describeTarget(rejected)} (${path.basename(rejected.path)})` : 'this input';
  const mixed = rejected && targets.length > 1 && plugins.some((plugin) => takes(plugin.fileTypes, rejected).takes);
  if (plugins.length === 0) return `No plugin can run on ${shown}: no plugin is loaded. Add a manifest, or create a plugin with Create Plugin….`;
  const offers = plugins.map((plugin) => `${plugin.name} takes ${describeAccepted(plugin.fileTypes)}`).join('; ');
  const head = mixed ? `No plugin takes all ${targets.length} selected inputs.` : `No plugin takes ${shown}.`;
  return `${head} ${offers}. Choose another input, or add its type to a plugin's "file_types".`;
}

/**
 * What the explorer's when-clauses need to show "Run Plugin on File…" exactly where the rule would
 * offer a plugin: whether some plugin takes any file, the extensions (as `resourceExtname` spells
 * them: the last part, in lower and upper case) and whether some plugin takes folders. A multi-part
 * extension (".tar.gz") shows the entry for every ".gz"; the picker then applies the full rule.
 */
export function menuContext(plugins: readonly FileTaker[]): { anyFile: boolean; extensions: string[]; folders: boolean } {
  const types = plugins.flatMap((plugin) => normalised(plugin.fileTypes));
  const extensions = new Set<string>();
  for (const type of types) {
    if (type === FOLDER_TYPE) continue;
    const last = path.extname(type) || type;
    extensions.add(last.toLowerCase()).add(last.toUpperCase());
  }
  return {
    anyFile: plugins.some((plugin) => normalised(plugin.fileTypes).length === 0),
    extensions: [...extensions].sort(),
    folders: types.includes(FOLDER_TYPE),
  };
}

/** Why `plugin` is not run on the target, and which plugins would take it; undefined when it takes it. */
export function refusal(plugin: FileTaker, all: readonly FileTaker[], target: RunTarget): string | undefined {
  const verdict = takes(plugin.fileTypes, target);
  if (verdict.takes) return undefined;
  const others = pluginsTaking(all, [target]).map((other) => other.name);
  const alternatives = others.length > 0 ? `Plugins that take it: ${others.join(', ')}.` : `No loaded plugin takes ${describeTarget(target)}.`;
  return `${plugin.name} does not take ${path.basename(target.path)}: ${verdict.reason}. ${alternatives}`;
}
