// Smoke test: a user opens the example workspace, trusts it, and finds the "Plugins" container in the
// activity bar with the example plugins listed in its tree.
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../scripts/vscode-bench/bench';
import { openView, treeRows, uiTest, useVsCode, waitForTreeRow } from './helpers';

/** Names of the example plugins, from their manifests (examples/plugins/<folder>/*.json). */
function examplePluginNames(): string[] {
  const root = path.join(projectRoot, 'examples', 'plugins');
  return fs.readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.json'))
    .map((file) => (JSON.parse(fs.readFileSync(path.join(root, file), 'utf8')) as { name?: unknown }).name)
    .filter((name): name is string => typeof name === 'string');
}

useVsCode();

uiTest('the Plugins container lists the example plugins', async () => {
  const expected = examplePluginNames();
  assert.ok(expected.length > 0, 'examples/plugins holds no manifest');
  await openView('Plugins');
  for (const name of expected) await waitForTreeRow(name);
  const rows = await treeRows();
  for (const name of expected) assert.ok(rows.some((row) => row.includes(name)), `"${name}" not in ${JSON.stringify(rows)}`);
});
