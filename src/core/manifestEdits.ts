// Writing manifests: a new one (Create Plugin Manifest…) and the interpreter of an existing one
// (Set Interpreter…). Both check with the same rules as reading (manifest.ts), so what is written
// loads; an edit changes only the one value and keeps the rest of the file as the user wrote it.
import fs from 'node:fs/promises';
import path from 'node:path';
import { PluginError, messageOf } from './errors';
import { propertySpans } from './jsonSyntax';
import { PLUGIN_NAME_PATTERN, isPythonIdentifier, isPythonModuleName } from './manifest';

export interface NewManifest {
  /** The folder the manifest goes into; created when missing. */
  folder: string;
  name: string;
  pythonPath: string;
  module: string;
  className: string;
}

type Field = 'name' | 'module' | 'className' | 'pythonPath';

/** What is wrong with one value the user typed, as the manifest reader would say it; undefined when it is fine. */
export function newManifestProblem(field: Field, value: string): string | undefined {
  switch (field) {
    case 'name':
      return PLUGIN_NAME_PATTERN.test(value) ? undefined : 'Use up to 100 letters, digits, ".", "_" or "-", starting with a letter or digit, e.g. whisper-local.';
    case 'module':
      return isPythonModuleName(value) ? undefined : 'A dotted Python module name, e.g. my_pkg.plugin (a file plugin.py beside the manifest is "plugin").';
    case 'className':
      return isPythonIdentifier(value) ? undefined : 'A Python class name, e.g. WhisperPlugin.';
    case 'pythonPath':
      return value.trim() === '' ? "Choose the Python interpreter of the plugin's environment." : undefined;
  }
}

/** Writes `<folder>/<name>.json`; never overwrites a file. Returns the manifest's path. */
export async function writeNewManifest(manifest: NewManifest): Promise<string> {
  const values: Record<Field, string> = { name: manifest.name, module: manifest.module, className: manifest.className, pythonPath: manifest.pythonPath };
  for (const [field, value] of Object.entries(values) as Array<[Field, string]>) {
    const problem = newManifestProblem(field, value);
    if (problem) throw new PluginError('usage', `The manifest was not written: ${JSON.stringify(value)} is not a valid ${field}. ${problem}`);
  }
  const file = path.join(path.resolve(manifest.folder), `${manifest.name}.json`);
  const content = { name: manifest.name, version: '0.1.0', python_path: manifest.pythonPath, module: manifest.module, class: manifest.className, env_vars: {} };
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    // 'wx': an existing manifest is never overwritten, even if it appeared a moment ago.
    await fs.writeFile(file, `${JSON.stringify(content, null, 2)}\n`, { flag: 'wx' });
  } catch (error) {
    const exists = (error as NodeJS.ErrnoException).code === 'EEXIST';
    throw new PluginError('usage', exists ? `${file} already exists; nothing was overwritten. Choose another name.` : `Could not write ${file}: ${messageOf(error)}`, { cause: error });
  }
  return file;
}

/**
 * Sets "python_path" in an existing manifest, keeping everything else byte for byte (comments are not
 * JSON, so there are none; formatting and key order stay). The file is replaced in one rename, so the
 * manifest watcher never reads half a file.
 */
export async function setManifestPythonPath(manifestPath: string, pythonPath: string): Promise<void> {
  const problem = newManifestProblem('pythonPath', pythonPath);
  if (problem) throw new PluginError('usage', problem);
  let text: string;
  try {
    text = await fs.readFile(manifestPath, 'utf8');
  } catch (error) {
    throw new PluginError('manifest', `Could not read ${manifestPath}: ${messageOf(error)}`, { manifestPath, cause: error });
  }
  const updated = withPythonPath(text, pythonPath);
  if (updated === undefined) {
    throw new PluginError('manifest', `${manifestPath} is not a valid JSON object, so "python_path" was not changed. Open it, fix the JSON, and try again.`, { manifestPath });
  }
  const temp = path.join(path.dirname(manifestPath), `.${path.basename(manifestPath)}.${process.pid}.tmp`);
  try {
    await fs.writeFile(temp, updated, { flag: 'wx' });
    await fs.rename(temp, manifestPath);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw new PluginError('manifest', `Could not write ${manifestPath}: ${messageOf(error)}`, { manifestPath, cause: error });
  }
}

/** The text with "python_path" replaced (or added first); undefined when the text is not a JSON object. */
export function withPythonPath(text: string, pythonPath: string): string | undefined {
  const spans = propertySpans(text);
  const root = spans?.get('');
  if (!spans || !root || text[root.value.start] !== '{') return undefined;
  const value = JSON.stringify(pythonPath);
  const current = spans.get('python_path');
  if (current) return text.slice(0, current.value.start) + value + text.slice(current.value.end);
  const open = root.value.start + 1;
  const empty = text.slice(open, root.value.end - 1).trim() === '';
  const keys = [...spans.values()].flatMap((span) => (span.key ? [span.key] : []));
  const firstKey = keys.sort((a, b) => a.start - b.start)[0];
  const indent = firstKey ? (/\n([ \t]*)$/.exec(text.slice(open, firstKey.start))?.[1] ?? ' ') : '  ';
  const separator = firstKey && text.slice(open, firstKey.start).includes('\n') ? `\n${indent}` : ' ';
  const rest = text.slice(open);
  const after = empty ? (separator === ' ' ? ' ' : '\n') : /^\s/.test(rest) ? ',' : ', ';
  return `${text.slice(0, open)}${separator}"python_path": ${value}${after}${rest}`;
}
