// Finding interpreters: a venv the test creates in a workspace folder, conda environments (conda cannot
// be installed on this offline machine, so a stub `conda` script stands in for it and prints what
// `conda env list --json` prints), python3 on PATH, each with the version it reports when run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { discoverInterpreters, pythonVersion } from '../../src/core/interpreterDiscovery';
import { python } from '../helpers/python';

let dir: string;
let workspace: string;
let venvPython: string;
const realVersion = execFileSync(python, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8' }).trim();

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-interp-'));
  workspace = path.join(dir, 'project');
  await fs.mkdir(workspace);
  // A real venv, as `python -m venv .venv` makes it (without pip: nothing is downloaded).
  execFileSync(python, ['-m', 'venv', '--without-pip', path.join(workspace, '.venv')]);
  venvPython = path.join(workspace, '.venv', 'bin', 'python');
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('discoverInterpreters', () => {
  test('finds the workspace venv and python3 on PATH, each with its version', async () => {
    const bin = path.join(dir, 'bin');
    await fs.mkdir(bin, { recursive: true });
    await fs.symlink(python, path.join(bin, 'python3'));
    const found = await discoverInterpreters({ workspaceFolders: [workspace], env: { PATH: bin } });
    const venv = found.find((interpreter) => interpreter.source === 'workspace');
    assert.deepEqual(venv, { path: venvPython, source: 'workspace', name: 'project/.venv', version: realVersion });
    const onPath = found.find((interpreter) => interpreter.source === 'path');
    assert.deepEqual(onPath, { path: path.join(bin, 'python3'), source: 'path', name: 'python3', version: realVersion });
  });

  test('lists conda environments from `conda env list --json` (a stub conda: conda cannot be installed here)', async () => {
    const root = path.join(dir, 'conda');
    const env = path.join(root, 'envs', 'whisper');
    for (const prefix of [root, env]) {
      await fs.mkdir(path.join(prefix, 'bin'), { recursive: true });
      await fs.symlink(python, path.join(prefix, 'bin', 'python'));
    }
    const stub = path.join(dir, 'stub-bin', 'conda');
    await fs.mkdir(path.dirname(stub));
    await fs.writeFile(stub, `#!/bin/sh\n[ "$1 $2 $3" = "env list --json" ] || exit 2\necho '${JSON.stringify({ envs: [root, env, path.join(dir, 'gone')] })}'\n`, { mode: 0o755 });
    const found = await discoverInterpreters({ workspaceFolders: [], env: { PATH: path.dirname(stub) } });
    assert.deepEqual(
      found.map((interpreter) => [interpreter.name, interpreter.source, interpreter.version]),
      [['base', 'conda', realVersion], ['whisper', 'conda', realVersion]],
      'an environment whose folder is gone is left out',
    );
  });

  test('known environments come first; duplicates and interpreters that do not run are left out', async () => {
    const broken = path.join(dir, 'broken-venv', 'bin', 'python');
    await fs.mkdir(path.dirname(broken), { recursive: true });
    await fs.writeFile(broken, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const found = await discoverInterpreters({
      workspaceFolders: [workspace],
      env: { PATH: '' },
      known: [
        { path: venvPython, source: 'python-extension', name: 'from the extension' },
        { path: broken, source: 'python-extension', name: 'broken' },
      ],
    });
    assert.deepEqual(found.map((interpreter) => [interpreter.name, interpreter.source]), [['from the extension', 'python-extension']]);
  });

  test('pythonVersion is undefined for a program that is not Python', async () => {
    assert.equal(await pythonVersion('/bin/true'), undefined);
    assert.equal(await pythonVersion(path.join(dir, 'nothing-here')), undefined);
  });
});
