// Smoke test: the extension activates in a real extension host and registers every command it contributes.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ExtensionHostTests } from './index';

const EXTENSION_ID = 'remote-plugin-proxy.remote-plugin-proxy';

interface ContributedCommand { command: string }

function ourExtension(): vscode.Extension<unknown> {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not loaded as a development extension`);
  return extension;
}

export const tests: ExtensionHostTests = {
  'the extension activates': async () => {
    const extension = ourExtension();
    await extension.activate();
    assert.equal(extension.isActive, true);
  },

  'every contributed remotePluginProxy command is registered': async () => {
    await ourExtension().activate();
    const contributed = (ourExtension().packageJSON.contributes?.commands ?? []) as ContributedCommand[];
    const ours = contributed.map((c) => c.command).filter((id) => id.startsWith('remotePluginProxy.'));
    assert.ok(ours.length > 0, 'package.json contributes no remotePluginProxy.* command');
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(ours.filter((id) => !registered.has(id)), [], 'contributed but not registered');
  },
};
