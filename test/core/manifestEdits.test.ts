// Writing manifests: Create Plugin Manifest… writes one that loads (the same identifier rules as reading,
// so non-ASCII Python names work and file paths as modules do not); Set Interpreter… changes python_path
// and nothing else.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import { readManifest } from '../../src/core/manifest';
import { newManifestProblem, setManifestPythonPath, withPythonPath, writeNewManifest } from '../../src/core/manifestEdits';
import { python } from '../helpers/python';

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-edits-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('newManifestProblem', () => {
  test('the same rules as the manifest reader: Python identifiers (also non-ASCII), dotted modules, safe names', () => {
    assert.equal(newManifestProblem('module', 'paquete.módulo'), undefined);
    assert.equal(newManifestProblem('className', 'Überplugin'), undefined);
    assert.match(newManifestProblem('module', 'plugin.py/x')!, /dotted Python module name/);
    assert.match(newManifestProblem('module', 'my-pkg')!, /dotted Python module name/);
    assert.match(newManifestProblem('className', '1Plugin')!, /class name/);
    assert.match(newManifestProblem('name', 'has space')!, /letters, digits/);
    assert.equal(newManifestProblem('name', 'whisper-local'), undefined);
    assert.match(newManifestProblem('pythonPath', '  ')!, /interpreter/);
  });
});

describe('writeNewManifest', () => {
  test('writes a manifest that loads, and never overwrites one', async () => {
    const file = await writeNewManifest({ folder: path.join(dir, 'new'), name: 'fresh', pythonPath: python, module: 'paquete.módulo', className: 'Überplugin' });
    const entry = await readManifest(file);
    assert.ok(entry.ok, JSON.stringify(entry));
    assert.equal(entry.manifest.module, 'paquete.módulo');
    await assert.rejects(
      writeNewManifest({ folder: path.join(dir, 'new'), name: 'fresh', pythonPath: python, module: 'm', className: 'C' }),
      (error: unknown) => error instanceof PluginError && /already exists; nothing was overwritten/.test(error.message),
    );
    await assert.rejects(writeNewManifest({ folder: dir, name: 'bad', pythonPath: python, module: 'a/b.py', className: 'C' }), /not a valid module/);
  });
});

describe('Set Interpreter (python_path)', () => {
  test('replaces the value and keeps the rest of the text as written', () => {
    const text = '{\n    "name": "x",  "python_path" : "old",\n    "module": "m"\n}\n';
    assert.equal(withPythonPath(text, '/new/bin/python'), '{\n    "name": "x",  "python_path" : "/new/bin/python",\n    "module": "m"\n}\n');
  });
  test('adds the field first, in the file\'s own indentation, when it is missing', () => {
    assert.equal(withPythonPath('{\n\t"name": "x"\n}', '/p'), '{\n\t"python_path": "/p",\n\t"name": "x"\n}');
    assert.equal(withPythonPath('{"name": "x"}', '/p'), '{ "python_path": "/p", "name": "x"}');
    assert.equal(withPythonPath('{}', '/p'), '{ "python_path": "/p" }');
    assert.equal(JSON.parse(withPythonPath('{ }', 'C:\\py\\python.exe')!).python_path, 'C:\\py\\python.exe');
  });
  test('refuses text that is not a JSON object', () => {
    assert.equal(withPythonPath('[1]', '/p'), undefined);
    assert.equal(withPythonPath('{"a": ', '/p'), undefined);
  });
  test('a manifest broken by its python_path loads after the edit', async () => {
    const file = path.join(dir, 'fix-me.json');
    await fs.writeFile(file, JSON.stringify({ name: 'fix-me', python_path: '/nowhere/python', module: 'm', class: 'C' }, null, 2));
    assert.equal((await readManifest(file)).ok, false);
    await setManifestPythonPath(file, python);
    const entry = await readManifest(file);
    assert.ok(entry.ok, JSON.stringify(entry));
    assert.equal(entry.manifest.python_path, python);
    assert.deepEqual((await fs.readdir(dir)).filter((name) => name.endsWith('.tmp')), [], 'no temp file is left');
    await assert.rejects(setManifestPythonPath(path.join(dir, 'missing.json'), python), /Could not read/);
  });
});
