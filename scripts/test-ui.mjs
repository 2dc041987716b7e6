// `npm run test:ui [FILE...]`: packages the .vsix, then runs each UI test file (test/ui/*.ui.test.ts, or the
// files named) in a VS Code of its own. A file that fails is run once more, in a fresh VS Code: a real
// workbench on a shared machine has focus and animation races of its own that no wait in a test can rule
// out. The stage still fails when a file fails twice, and every first failure is reported by name at the end.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const named = process.argv.slice(2);
const files = named.length > 0
  ? named
  : fs.readdirSync(path.join(root, 'test', 'ui')).filter((name) => name.endsWith('.ui.test.ts')).sort().map((name) => path.join('test', 'ui', name));

/** Runs a command in the project folder with this process's output; returns its exit code. */
function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  return result.status ?? 1;
}

function runFile(file) {
  return run(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=1800000', '--import', 'tsx',
    '--import', './test/helpers/perTestTimeout.ts', file]);
}

if (run('bash', ['scripts/package.sh']) !== 0) process.exit(1);
const passedOnSecondRun = [];
const failed = [];
for (const file of files) {
  if (runFile(file) === 0) continue;
  console.log(`\n::: ${file} failed (its failures are above); running it once more in a fresh VS Code\n`);
  if (runFile(file) === 0) passedOnSecondRun.push(file);
  else failed.push(file);
}
console.log(`\n::: UI tests: ${files.length - failed.length} of ${files.length} files passed`);
for (const file of passedOnSecondRun) console.log(`  ${file}: failed on its first run, passed on its second (see its first run above)`);
for (const file of failed) console.log(`  ${file}: failed twice`);
process.exitCode = failed.length > 0 ? 1 : 0;
