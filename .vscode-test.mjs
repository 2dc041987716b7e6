// Runs the extension-host tests (test/vscode/*.test.ts, through the run() entry in test/vscode/index.ts)
// in a desktop VS Code downloaded by @vscode/test-electron 2.x — for machines that can reach
// update.code.visualstudio.com. On machines without that access use `npm run test:vscode` (code-server).
//
//   npm run test:vscode -- --bundle-only   # (or any run of test:vscode) bundles the tests into out/test/vscode/
//   node .vscode-test.mjs                   # then runs them in VS Code stable (VSCODE_VERSION=1.90.0 for the oldest)
//
// Not a @vscode/test-cli config: test-cli runs mocha files, while this project's tests share one run() entry.
import { runTests } from '@vscode/test-electron';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = import.meta.dirname;
const testsEntry = path.join(root, 'out', 'test', 'vscode', 'index.js');
if (!fs.existsSync(testsEntry)) {
  console.error(`${testsEntry} is missing: run \`npm run test:vscode -- --bundle-only\` first`);
  process.exit(2);
}

// The same workspace as the code-server runner: a copy of examples/workspace pointing at the example plugins.
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'rpp-ws-'));
fs.cpSync(path.join(root, 'examples', 'workspace'), workspace, { recursive: true });
const plugins = path.join(root, 'examples', 'plugins');
const pluginDirs = fs.readdirSync(plugins).map((d) => path.join(plugins, d));
const fixtures = path.join(root, 'test', 'fixtures', 'manifests-vscode');
if (fs.existsSync(fixtures)) pluginDirs.push(fixtures);
fs.mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'),
  JSON.stringify({ 'remotePluginProxy.pluginDirs': pluginDirs }, null, 2));

try {
  await runTests({
    version: process.env.VSCODE_VERSION ?? 'stable',
    extensionDevelopmentPath: root,
    extensionTestsPath: testsEntry,
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
  });
} catch (error) {
  console.error('extension-host tests failed:', error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  fs.rmSync(workspace, { recursive: true, force: true });
}
