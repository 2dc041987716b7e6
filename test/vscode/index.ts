/*
 * Extension-host test entry: VS Code calls run() inside the real extension host (a rejected promise = failure).
 * The same entry serves `npm run test:vscode` (code-server's VS Code server + the smoke-test driver, see
 * scripts/vscode-bench/test-vscode.ts) and @vscode/test-electron on a desktop (see .vscode-test.mjs).
 *
 * HOW TO WRITE A TEST FILE — test/vscode/<topic>.test.ts:
 *
 *   import * as assert from 'node:assert/strict';
 *   import * as vscode from 'vscode';
 *   import type { ExtensionHostTests } from './index';   // type only: each test file is bundled on its own
 *
 *   export const tests: ExtensionHostTests = {
 *     'the tree lists the example plugins': async () => {
 *       await vscode.commands.executeCommand('remotePluginProxy.refresh');
 *       assert.ok(...);
 *     },
 *   };
 *
 * - Tests run one after another, files in alphabetical order, tests in the order written.
 * - A test fails by throwing (node:assert). Clean up in try/finally: workers you start, editors you open.
 * - Wait for conditions (poll with a deadline), never for a fixed time; each test is cut off after 90 s.
 * - The workspace is a trusted temp copy of examples/workspace whose .vscode/settings.json sets
 *   remotePluginProxy.pluginDirs to examples/plugins/* and test/fixtures/manifests-vscode/ (if present).
 *   HOME is a temp folder, so ~/.cjm/plugins is empty. vscode.workspace.workspaceFolders[0] is that copy.
 * - RPP_TEST_GREP=<text> (in the environment of `npm run test:vscode`) runs only tests whose
 *   "file › name" contains the text.
 * Files are bundled by esbuild into out/test/vscode/ (CommonJS, `vscode` external) before the run.
 */
import fs from 'node:fs';
import path from 'node:path';

export type ExtensionHostTests = Record<string, () => Promise<void> | void>;

interface TestResult { name: string; passed: boolean; ms: number; error?: string }

const TEST_TIMEOUT_MS = 90_000;

function withTimeout(work: Promise<void>, name: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: no result after ${TEST_TIMEOUT_MS / 1000} s`)), TEST_TIMEOUT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function runOne(name: string, test: () => Promise<void> | void): Promise<TestResult> {
  const started = performance.now();
  try {
    await withTimeout(Promise.resolve().then(test), name);
    return { name, passed: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return { name, passed: false, ms: Math.round(performance.now() - started), error: detail };
  }
}

function report(result: TestResult): void {
  const mark = result.passed ? 'PASS' : 'FAIL';
  console.log(`[vscode-test] ${mark} ${result.name} (${result.ms} ms)`);
  if (result.error) console.log(result.error.split('\n').map((line) => `    ${line}`).join('\n'));
}

/** Loads the bundled test files that sit beside this bundle (out/test/vscode/*.test.js). */
function loadTestFiles(folder: string): Array<{ file: string; tests: ExtensionHostTests }> {
  const files = fs.readdirSync(folder).filter((f) => f.endsWith('.test.js')).sort();
  // A runtime require of a computed path: the test files are separate bundles, not part of this one.
  return files.map((file) => ({ file, tests: (require(path.join(folder, file)) as { tests?: ExtensionHostTests }).tests ?? {} }));
}

export async function run(): Promise<void> {
  // This file is bundled as CommonJS, where __dirname is the bundle's folder.
  const grep = process.env.RPP_TEST_GREP ?? '';
  const results: TestResult[] = [];
  for (const { file, tests } of loadTestFiles(__dirname)) {
    for (const [title, test] of Object.entries(tests)) {
      const name = `${file.replace(/\.test\.js$/, '')} › ${title}`;
      if (!name.includes(grep)) continue;
      const result = await runOne(name, test);
      report(result);
      results.push(result);
    }
  }
  const failed = results.filter((r) => !r.passed);
  // The bench runner reads this file: console output from the extension host is not reliably forwarded.
  fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(results, null, 2));
  console.log(`[vscode-test] ${results.length - failed.length} passed, ${failed.length} failed`);
  if (results.length === 0) throw new Error('no extension-host tests ran (none found, or RPP_TEST_GREP matched none)');
  if (failed.length > 0) throw new Error(`${failed.length} of ${results.length} extension-host tests failed`);
}
