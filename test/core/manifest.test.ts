// Manifest checking: every validation case names the file and the field; python_path resolution (which files a plugin takes: fileRule.test.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PluginError } from '../../src/core/errors';
import {
  MAX_MANIFEST_BYTES,
  checkManifestBytes,
  checkManifestValue,
  readManifest,
  resolvePythonExecutable,
  type ManifestEntry,
} from '../../src/core/manifest';
import { python } from '../helpers/python';
import { within } from '../helpers/waitFor';

let dir: string;
let manifestPath: string;
const valid = { name: 'demo', python_path: './venv/bin/python', module: 'demo_pkg.plugin', class: 'DemoPlugin' };

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-manifest-'));
  await fs.mkdir(path.join(dir, 'venv', 'bin'), { recursive: true });
  // A venv's python is a symlink to the base interpreter: the same shape here, with the real one.
  await fs.symlink(python, path.join(dir, 'venv', 'bin', 'python'));
  await fs.writeFile(path.join(dir, 'not-executable'), '#!/bin/sh\n', { mode: 0o644 });
  manifestPath = path.join(dir, 'demo.json');
});
after(() => fs.rm(dir, { recursive: true, force: true }));

function broken(entry: ManifestEntry): Extract<ManifestEntry, { ok: false }> {
  assert.equal(entry.ok, false, `expected a broken entry, got ${JSON.stringify(entry)}`);
  return entry as Extract<ManifestEntry, { ok: false }>;
}

/** The one problem about `field`; its message must start with the file's path and quote the field. */
function problemAbout(entry: ManifestEntry, field: string): string {
  const { problems } = broken(entry);
  const problem = problems.find((p) => p.field === field);
  assert.ok(problem, `no problem about ${field} in ${JSON.stringify(problems)}`);
  assert.ok(problem.message.startsWith(`${entry.path}: `), problem.message);
  assert.ok(problem.message.includes(`"${field}"`), problem.message);
  return problem.message;
}

const check = (value: unknown) => checkManifestValue(manifestPath, value);

describe('a valid manifest', () => {
  test('gets defaults, keeps unknown fields and resolves the interpreter without following the symlink', async () => {
    const entry = await check({ ...valid, homepage: 'https://example.invalid', extra: { nested: [1] } });
    assert.ok(entry.ok, JSON.stringify(entry));
    assert.equal(entry.manifest.version, '0.0.0');
    assert.deepEqual(entry.manifest.env_vars, {});
    assert.equal(entry.manifest.worker, 'rpp');
    assert.equal(entry.manifest.homepage, 'https://example.invalid');
    assert.deepEqual(entry.manifest.extra, { nested: [1] });
    assert.equal(entry.pythonExecutable, path.join(dir, 'venv', 'bin', 'python'));
    assert.equal(entry.manifest.python_path, './venv/bin/python', 'the manifest keeps what the user wrote');
  });

  test('normalises file_types and keeps the optional fields', async () => {
    const entry = await check({
      ...valid, version: '2.0', description: 'd', file_types: ['WAV', '*.Mp3', '.tar.GZ', 'wav'], file_arg: 'audio_path',
      idle_timeout_s: 0.5, startup_timeout_s: 90, worker: 'cjm', env_vars: { CUDA_VISIBLE_DEVICES: '0' },
    });
    assert.ok(entry.ok, JSON.stringify(entry));
    assert.deepEqual(entry.manifest.file_types, ['.wav', '.mp3', '.tar.gz']);
    assert.equal(entry.manifest.file_arg, 'audio_path');
    assert.equal(entry.manifest.idle_timeout_s, 0.5);
    assert.equal(entry.manifest.startup_timeout_s, 90);
    assert.equal(entry.manifest.worker, 'cjm');
    assert.deepEqual(entry.manifest.env_vars, { CUDA_VISIBLE_DEVICES: '0' });
  });
});

describe('file-level problems name the file and say what is wrong', () => {
  const cases: Array<[string, string | Uint8Array, RegExp]> = [
    ['empty file', '', /is empty\. Write a manifest/],
    ['only whitespace', ' \n\t ', /is empty/],
    ['not UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), /is not UTF-8 text/],
    ['a list', '[1, 2]', /is not a JSON object \(found a list\)/],
    ['a string', '"hello"', /is not a JSON object \(found a string \("hello"\)\)/],
    ['null', 'null', /is not a JSON object \(found null\)/],
    ['trailing comma, line and column', '{\n  "name": "x",\n}', /is not valid JSON at line 3, column 1: expected a property name in double quotes, found "}"/],
    ['missing value', '{"a": }', /is not valid JSON at line 1, column 7: expected a value/],
    ['unclosed object', '{"a": 1', /line 1, column 8: expected ',' or '}' after a property value, found the end of the file/],
    ['garbage after the value', '{} x', /line 1, column 4: expected nothing more after the JSON value/],
    ['single quotes', "{'a': 1}", /line 1, column 2: expected a property name in double quotes/],
    ['Windows path with single backslashes', '{"python_path": "C:\\envs\\x"}', /line 1, column 20: an invalid escape/],
    ['unclosed string', '{"a": "abc', /line 1, column 7: a string that is never closed/],
  ];
  for (const [label, content, expected] of cases) {
    test(label, async () => {
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      const entry = broken(await checkManifestBytes(manifestPath, bytes));
      assert.equal(entry.problems.length, 1);
      assert.match(entry.problems[0].message, expected);
      assert.ok(entry.problems[0].message.startsWith(`${manifestPath}: `));
      assert.equal(entry.name, 'demo', 'the name falls back to the file stem');
      assert.ok(entry.error instanceof PluginError);
      assert.equal(entry.error.kind, 'manifest');
      assert.equal(entry.error.options.manifestPath, manifestPath);
      assert.equal(entry.error.message, entry.problems[0].message);
    });
  }

  test('a UTF-8 byte order mark is accepted', async () => {
    const entry = await checkManifestBytes(manifestPath, Buffer.from(`\ufeff${JSON.stringify(valid)}`));
    assert.ok(entry.ok, JSON.stringify(entry));
  });

  test('a file over 1 MB is refused without being read', async () => {
    const big = path.join(dir, 'big.json');
    await fs.writeFile(big, Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20));
    const entry = broken(await readManifest(big));
    assert.match(entry.problems[0].message, /big\.json: is 1\.0 MB; a manifest is a small JSON file \(at most 1 MB\)/);
  });

  test('not a regular file: a folder, a FIFO, a link to /dev/zero are broken with the reason, at once', async () => {
    const folder = path.join(dir, 'folder.json');
    await fs.mkdir(folder);
    const fifo = path.join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    const zero = path.join(dir, 'zero.json');
    await fs.symlink('/dev/zero', zero);
    // Reading a FIFO without a writer would wait forever (and hold one of libuv's 4 pool threads):
    // ten of them, then a good manifest, must all be done within the deadline.
    const reads = [folder, zero, ...Array.from({ length: 10 }, () => fifo)].map((file) => readManifest(file));
    const entries = await within(Promise.all(reads), { what: 'reading a folder, a link to /dev/zero and ten FIFO manifests', timeoutMs: 30_000 });
    assert.match(broken(entries[0]).error.message, /folder\.json: is a folder, not a manifest file/);
    assert.match(broken(entries[1]).error.message, /zero\.json: is a device, not a regular file; manifests are read only from regular files/);
    for (const entry of entries.slice(2)) assert.match(broken(entry).error.message, /fifo\.json: is a named pipe \(FIFO\), not a regular file/);
    await fs.writeFile(manifestPath, JSON.stringify(valid));
    assert.ok((await within(readManifest(manifestPath), { what: 'a good manifest after the FIFOs', timeoutMs: 30_000 })).ok);
  });

  test('the size limit holds while reading: a file that says it is empty but is not (/proc/kallsyms)', { skip: !existsSync('/proc/kallsyms') }, async () => {
    const liar = path.join(dir, 'liar.json');
    await fs.symlink('/proc/kallsyms', liar); // a regular file of size 0 in stat, megabytes when read
    const entry = broken(await readManifest(liar));
    assert.match(entry.error.message, /liar\.json: is at least 1\.0 MB; a manifest is a small JSON file/);
  });

  test('a file that does not exist is a broken entry, not an exception', async () => {
    const entry = broken(await readManifest(path.join(dir, 'gone.json')));
    assert.match(entry.problems[0].message, /gone\.json: cannot be read \(.*ENOENT/);
    assert.equal(entry.name, 'gone');
  });
});

describe('field problems name the field and what to do', () => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['missing name', { name: undefined }, 'name', /"name" is missing\. Add the plugin's name, e\.g\. "name": "whisper-local"/],
    ['missing python_path', { python_path: undefined }, 'python_path', /"python_path" is missing\. Add the Python interpreter/],
    ['missing module', { module: undefined }, 'module', /"module" is missing/],
    ['missing class', { class: undefined }, 'class', /"class" is missing/],
    ['name of the wrong type', { name: 42 }, 'name', /"name" must be a string, found a number \(42\)/],
    ['class null', { class: null }, 'class', /"class" must be a string, found null/],
    ['python_path a list', { python_path: ['python3'] }, 'python_path', /"python_path" must be a string, found a list/],
    ['empty module', { module: '  ' }, 'module', /"module" is empty\. Write the Python module/],
    ['version a number', { version: 1 }, 'version', /"version" must be a string, found a number \(1\)/],
    ['description an object', { description: {} }, 'description', /"description" must be a string, found an object/],
    ['name with spaces', { name: 'My Plugin' }, 'name', /"name": My Plugin cannot be used as a plugin name.*letters, digits, '-', '_' or '\.'/],
    ['name starting with a dot', { name: '.hidden' }, 'name', /cannot be used as a plugin name/],
    ['name too long', { name: 'a'.repeat(101) }, 'name', /cannot be used as a plugin name/],
    ['module as a file path', { module: 'pkg/plugin.py' }, 'module', /"module": pkg\/plugin\.py is not a Python module name\. It looks like a file path/],
    ['class not an identifier', { class: 'My-Plugin' }, 'class', /"class": My-Plugin is not a Python identifier/],
    ['env_vars a list', { env_vars: ['A=1'] }, 'env_vars', /"env_vars" must be an object of strings .*found a list/],
    ['env_vars value a number', { env_vars: { CUDA_VISIBLE_DEVICES: 0 } }, 'env_vars.CUDA_VISIBLE_DEVICES', /"env_vars\.CUDA_VISIBLE_DEVICES" must be a string, found a number \(0\)\. .*write it in quotes: "0"/],
    ['env_vars value null', { env_vars: { A: null } }, 'env_vars.A', /"env_vars\.A" must be a string, found null/],
    ['env_vars bad key', { env_vars: { 'A=B': 'x' } }, 'env_vars', /"env_vars" has the variable name A=B, which cannot be used/],
    ['env_vars key with a NUL byte', { env_vars: { 'A\0B': 'x' } }, 'env_vars', /"env_vars" has the variable name "A\\u0000B", which cannot be used.*NUL/],
    ['env_vars value with a NUL byte', { env_vars: { A: 'x\0y' } }, 'env_vars.A', /"env_vars\.A" contains a NUL character \(\\u0000\), which no environment variable can hold/],
    ['python_path with a NUL byte', { python_path: `${python}\0x` }, 'python_path', /"python_path" contains a NUL character/],
    ['file_types a string', { file_types: '.wav' }, 'file_types', /"file_types" must be a list of extensions, found a string \("\.wav"\)\. Write it as a list: \["\.wav"\]/],
    ['file_types item a number', { file_types: ['.wav', 3] }, 'file_types[1]', /"file_types\[1\]" must be a string such as "\.wav", found a number \(3\)/],
    ['file_types item empty', { file_types: ['.'] }, 'file_types[0]', /"file_types\[0\]": \. is not a file extension/],
    ['file_types item a path', { file_types: ['a/b.wav'] }, 'file_types[0]', /is not a file extension/],
    ['file_arg not an identifier', { file_arg: 'audio-path' }, 'file_arg', /"file_arg": audio-path is not a Python identifier/],
    ['idle_timeout_s zero', { idle_timeout_s: 0 }, 'idle_timeout_s', /"idle_timeout_s" must be a positive number of seconds, found 0/],
    ['startup_timeout_s negative', { startup_timeout_s: -5 }, 'startup_timeout_s', /"startup_timeout_s" must be a positive number of seconds, found -5/],
    ['startup_timeout_s infinite (1e999)', { startup_timeout_s: Infinity }, 'startup_timeout_s', /must be a positive number of seconds, found Infinity/],
    ['idle_timeout_s a string', { idle_timeout_s: '30' }, 'idle_timeout_s', /"idle_timeout_s" must be a number of seconds, found a string \("30"\)\. Write 30 without quotes/],
    ['worker unknown', { worker: 'docker' }, 'worker', /"worker" must be "rpp" .* or "cjm" .*found a string \("docker"\)/],
  ];
  for (const [label, change, field, expected] of cases) {
    test(label, async () => {
      const message = problemAbout(await check({ ...valid, ...change }), field);
      assert.match(message, expected);
    });
  }

  test('all problems of a file are collected, and the error sums them up on one line', async () => {
    const entry = broken(await check({ name: 42, module: '', class: 'C', env_vars: { A: 1 }, idle_timeout_s: -1 }));
    assert.deepEqual(entry.problems.map((p) => p.field), ['name', 'python_path', 'module', 'env_vars.A', 'idle_timeout_s']);
    assert.ok(entry.error.message.startsWith(`${manifestPath}: 5 problems: `), entry.error.message);
    assert.ok(!entry.error.message.includes('\n'));
    for (const field of ['"name"', '"python_path"', '"module"', '"env_vars.A"', '"idle_timeout_s"']) assert.ok(entry.error.message.includes(field), field);
    assert.equal(entry.error.detail, entry.problems.map((p) => p.message).join('\n'));
  });

  test('a broken manifest with a valid name keeps it; otherwise the stem is used', async () => {
    assert.equal(broken(await check({ ...valid, module: '' })).name, 'demo');
    const named = broken(await check({ ...valid, name: 'other', module: '' }));
    assert.equal(named.name, 'other');
    assert.equal(named.nameFromManifest, true);
    assert.equal(broken(await check({ ...valid, name: 'bad name' })).name, 'demo');
  });

  test('a key with a newline keeps the message on one line', async () => {
    const entry = broken(await check({ ...valid, env_vars: { 'A\nB': 1 } }));
    assert.equal(entry.problems[0].field, 'env_vars.A\nB');
    assert.ok(!entry.error.message.includes('\n'), entry.error.message);
    assert.ok(entry.error.message.includes('"env_vars.A\\nB"'), entry.error.message);
  });
});

describe('python_path', () => {
  test('absolute: the real interpreter', async () => {
    assert.deepEqual(await resolvePythonExecutable(python, '/nowhere'), { path: python });
  });

  test('relative to the manifest folder, with ./ and ../', async () => {
    const nested = path.join(dir, 'plugins');
    assert.deepEqual(await resolvePythonExecutable('../venv/bin/python', nested), { path: path.join(dir, 'venv', 'bin', 'python') });
    assert.deepEqual(await resolvePythonExecutable('venv/bin/python', dir), { path: path.join(dir, 'venv', 'bin', 'python') });
  });

  test('~/ is the home folder', async () => {
    const home = os.homedir();
    const inHome = await fs.mkdtemp(path.join(home, '.rpp-test-'));
    try {
      await fs.symlink(python, path.join(inHome, 'python'));
      const relative = `~/${path.relative(home, inHome)}/python`;
      assert.deepEqual(await resolvePythonExecutable(relative, '/nowhere'), { path: path.join(inHome, 'python') });
    } finally {
      await fs.rm(inHome, { recursive: true, force: true });
    }
  });

  test('a bare command is looked up on the given PATH, in order', async () => {
    const first = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-path-a-'));
    const second = await fs.mkdtemp(path.join(os.tmpdir(), 'rpp-path-b-'));
    try {
      await fs.writeFile(path.join(first, 'mypython'), '#!/bin/sh\n', { mode: 0o644 }); // not executable: skipped
      await fs.symlink(python, path.join(second, 'mypython'));
      const env = { PATH: ['', first, second].join(path.delimiter) };
      assert.deepEqual(await resolvePythonExecutable('mypython', dir, env), { path: path.join(second, 'mypython') });
      const missing = await resolvePythonExecutable('mypython', dir, { PATH: first });
      assert.ok('problem' in missing);
      assert.match(missing.problem, /"python_path": mypython was not found on PATH\. Give the interpreter's full path/);
    } finally {
      await Promise.all([first, second].map((d) => fs.rm(d, { recursive: true, force: true })));
    }
  });

  test('a bare command finds the real python3 on the real PATH', async () => {
    const resolved = await resolvePythonExecutable('python3', dir, process.env);
    assert.ok('path' in resolved, JSON.stringify(resolved));
    assert.ok(path.isAbsolute(resolved.path));
  });

  test('does not exist / is a folder / is not executable', async () => {
    const missing = problemAbout(await check({ ...valid, python_path: './envs/w/bin/python' }), 'python_path');
    assert.equal(
      missing,
      `${manifestPath}: "python_path": ${path.join(dir, 'envs/w/bin/python')} (from ./envs/w/bin/python) does not exist. Point it at the Python interpreter of the plugin's environment (e.g. <env>/bin/python).`,
    );
    const absolute = problemAbout(await check({ ...valid, python_path: '/nonexistent/bin/python' }), 'python_path');
    assert.ok(absolute.includes('"python_path": /nonexistent/bin/python does not exist.'), absolute);
    const folder = problemAbout(await check({ ...valid, python_path: './venv' }), 'python_path');
    assert.match(folder, /"python_path": .*venv \(from \.\/venv\) is a folder, not an interpreter\. Point it at the interpreter inside it \(e\.g\. .*venv\/bin\/python\)/);
    const notExecutable = problemAbout(await check({ ...valid, python_path: './not-executable' }), 'python_path');
    assert.match(notExecutable, /is not executable\. Make it executable \(chmod \+x\)/);
  });
});
