// Writes a working plugin skeleton (a Python class and its manifest) for `Remote Plugins: Create Plugin…`.
// The skeleton runs as it is on any file and streams two items, so an author starts from something
// that works and changes it step by step, instead of from an empty file.
import fs from 'node:fs/promises';
import path from 'node:path';
import { PluginError } from './errors';
import { PLUGIN_NAME_PATTERN } from './manifest';

export interface SkeletonOptions {
  /** The folder the two files go into; created when missing. */
  folder: string;
  /** The plugin's name, e.g. "word-count"; also names the files. */
  name: string;
  /** The interpreter the plugin runs with: an absolute path, a path relative to the folder, or a command on PATH. */
  pythonPath: string;
}

export interface SkeletonFiles {
  manifestPath: string;
  modulePath: string;
}

/** Writes `<name>.json` and `<name>_plugin.py` into the folder; never overwrites an existing file. */
export async function writePluginSkeleton(options: SkeletonOptions): Promise<SkeletonFiles> {
  const { name, pythonPath } = checkedOptions(options);
  const folder = path.resolve(options.folder);
  const moduleName = pythonModuleName(name);
  const className = pythonClassName(name);
  const files: SkeletonFiles = {
    manifestPath: path.join(folder, `${name}.json`),
    modulePath: path.join(folder, `${moduleName}.py`),
  };
  await fs.mkdir(folder, { recursive: true });
  await refuseExisting([files.manifestPath, files.modulePath]);
  const manifest = skeletonManifest(name, pythonPath, moduleName, className);
  // 'wx' fails if a file appeared since the check, so a file is never overwritten even in a race.
  await fs.writeFile(files.modulePath, skeletonModule(name, className), { flag: 'wx' });
  await fs.writeFile(files.manifestPath, `${JSON.stringify(manifest, null, 2)}\n`, { flag: 'wx' });
  return files;
}

function checkedOptions(options: SkeletonOptions): { name: string; pythonPath: string } {
  const name = options.name.trim();
  if (!PLUGIN_NAME_PATTERN.test(name)) {
    throw new PluginError(
      'usage',
      `"${options.name}" cannot be a plugin name: use letters, digits, ".", "_" and "-", starting with a letter or digit (e.g. "word-count").`,
    );
  }
  if (!/[A-Za-z]/.test(name)) {
    throw new PluginError('usage', `"${name}" cannot be a plugin name: it needs at least one letter, for the Python class name.`);
  }
  const pythonPath = options.pythonPath.trim();
  if (pythonPath === '') {
    throw new PluginError('usage', 'Choose the Python interpreter the plugin runs with (e.g. /usr/bin/python3 or a virtual environment\'s bin/python).');
  }
  return { name, pythonPath };
}

async function refuseExisting(paths: string[]): Promise<void> {
  for (const file of paths) {
    const exists = await fs.stat(file).then(
      () => true,
      () => false,
    );
    if (exists) {
      throw new PluginError('usage', `${file} already exists; the skeleton never overwrites a file. Choose another name or folder.`);
    }
  }
}

function words(name: string): string[] {
  return name.split(/[^A-Za-z0-9]+/).filter((word) => word !== '');
}

/**
 * "word-count" → "word_count_plugin". The suffix keeps a plugin called "json" or "io" from shadowing
 * the standard library, since the worker puts the manifest's folder at the front of sys.path.
 */
export function pythonModuleName(name: string): string {
  const base = words(name).join('_').toLowerCase();
  return `${/^[0-9]/.test(base) ? `p${base}` : base}_plugin`;
}

/** "word-count" → "WordCountPlugin". */
export function pythonClassName(name: string): string {
  const pascal = words(name)
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join('')
    .replace(/Plugin$/i, '');
  return `${/^[0-9]/.test(pascal) ? `P${pascal}` : pascal}Plugin`;
}

function skeletonManifest(name: string, pythonPath: string, moduleName: string, className: string): Record<string, unknown> {
  return {
    name,
    version: '0.1.0',
    description: `${name}: size and SHA-256 of a file (a skeleton to start from).`,
    python_path: pythonPath,
    module: moduleName,
    class: className,
    env_vars: {},
  };
}

function skeletonModule(name: string, className: string): string {
  return `"""${name}: a Remote Plugin Proxy plugin.

A skeleton that works as it is: it reports a file's size and its SHA-256 digest. Change execute()
and execute_stream() to do your plugin's work; see docs/writing-a-plugin.md.
"""

import hashlib
import os

READ_SIZE = 1024 * 1024


class ${className}:
    def __init__(self):
        # Constructed once when the worker starts, without arguments: load models in initialize().
        self.config = {"algorithm": "sha256"}
        self.progress = 0.0

    def initialize(self, config=None):
        config = {**self.config, **(config or {})}
        if config["algorithm"] not in hashlib.algorithms_available:
            raise ValueError(f"algorithm {config['algorithm']!r} is not available; use e.g. sha256 or md5.")
        self.config = config

    def get_config_schema(self):
        return {
            "type": "object",
            "properties": {
                "algorithm": {"type": "string", "default": "sha256", "description": "hashlib algorithm for the digest."},
            },
        }

    def get_current_config(self):
        return dict(self.config)

    def execute(self, file_path):
        """The whole result at once."""
        result = {}
        for item in self.execute_stream(file_path):
            result.update({key: value for key, value in item.items() if key != "type"})
        return result

    def execute_stream(self, file_path):
        """Results one by one: the file's size at once, its digest when it has been read."""
        size = os.path.getsize(file_path)
        print(f"${name}: reading {file_path}")  # print() goes to the plugin's log, never to the results
        yield {"type": "info", "file": file_path, "size_bytes": size}
        digest = hashlib.new(self.config["algorithm"])
        done = 0
        with open(file_path, "rb") as file:
            for block in iter(lambda: file.read(READ_SIZE), b""):
                if self._cancelled():
                    return
                digest.update(block)
                done += len(block)
                self.progress = done / size
        yield {"type": "done", "algorithm": self.config["algorithm"], "digest": digest.hexdigest()}

    def cleanup(self):
        pass

    def _cancelled(self):
        # The worker sets cancel_event before each call; getattr keeps the class usable on its own.
        event = getattr(self, "cancel_event", None)
        return event is not None and event.is_set()
`;
}
