// The everyday flow as a user sees it in a real VS Code (code-server, a remote window): worker ports
// stay out of the Ports view, "Run Plugin on File…" from the explorer streams or executes as the plugin
// can, a cold start and progress show in the notification, a failed start shows its state and reason,
// a broken manifest is in the Problems panel, errors offer the buttons that fit, and the interpreter
// picker lists a venv the test creates. Screenshots of each flow go to test-results/.
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import { examplePluginDirs, projectRoot } from '../../scripts/vscode-bench/bench';
import {
  explorerSubmenu, extensionLogText, notificationButtons, openFileFromExplorer, openView, page, pickQuickItem, quickPickLabels, runCommand,
  screenshot, treeRowHover, uiTest, useVsCode, waitForNotification, waitForTreeRow, webviewText, workspaceFolder,
} from './helpers';
import { inResults, waitForValue } from './webview';

const fixtures = path.join(projectRoot, 'test', 'fixtures', 'manifests-vscode');

useVsCode({ userSettings: { 'remotePluginProxy.pluginDirs': examplePluginDirs(fixtures), 'remotePluginProxy.maxRestarts': 0 } });

const listeners: ChildProcess[] = [];
after(() => {
  for (const listener of listeners) listener.kill('SIGKILL');
});

/** The TCP ports a process listens on, from /proc (its socket inodes matched against /proc/net/tcp*). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    const link = (() => { try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } })();
    const match = /^socket:\[(\d+)\]$/.exec(link);
    if (match) inodes.add(match[1]!);
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // fields: sl local_address rem_address st ... inode (10th); st 0A = LISTEN
      if (fields[3] === '0A' && inodes.has(fields[9] ?? '')) ports.push(parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** The pid of the running worker of a plugin (its command line names the worker script and the plugin). */
/** The processes of a plugin's worker: the keeper and the worker it forked carry the same command line. */
function workerProcesses(plugin: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = (() => { try { return fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0'); } catch { return []; } })();
    if (cmdline.some((arg) => arg.endsWith('rpp_worker.py')) && cmdline.includes(plugin)) pids.push(Number(entry));
  }
  return pids;
}

async function until<T>(what: string, check: () => T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Shows the Plugins view (clicking its activity bar entry while it is shown would hide it). */
async function showPlugins(): Promise<void> {
  const title = page().locator('.part.sidebar .composite.title', { hasText: 'Plugins' }).first();
  if (!(await title.isVisible())) await openView('Plugins');
}

/** The Ports view's rows as text (port, address, origin). */
async function portRows(): Promise<string[]> {
  return (await page().locator('.part.panel .monaco-list-row').allInnerTexts()).map((text) => text.replace(/\s+/g, ' ').trim());
}

uiTest('worker ports stay out of the Ports view, while other ports are forwarded', async () => {
  // A control: a port nobody hides, so the test proves that auto-forwarding works in this window.
  const control = spawn('python3', ['-m', 'http.server', '0', '--bind', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  listeners.push(control);
  const controlPort = await new Promise<number>((resolve, reject) => {
    control.stdout!.on('data', (data: Buffer) => {
      const match = /port (\d+)/.exec(data.toString());
      if (match) resolve(Number(match[1]));
    });
    control.once('exit', () => reject(new Error('the control http.server exited')));
  });
  await runCommand('Remote Plugins: Start');
  await pickQuickItem('vs-echo');
  await showPlugins();
  await waitForTreeRow(/vs-echo\s*1\.0\.0 · ready/);
  // The worker is the one of its processes that listens.
  const [workerPort] = await until('the vs-echo worker listening', () => workerProcesses('vs-echo').map(listeningPorts).find((ports) => ports.length > 0));
  await runCommand('Ports: Focus on Ports View');
  await page().locator('.part.panel .monaco-list-row', { hasText: String(controlPort) }).first().waitFor({ timeout: 60_000 })
    .catch(() => { throw new Error(`the control port ${controlPort} was not auto-forwarded: the test cannot tell anything`); });
  const rows = await portRows();
  assert.ok(!rows.some((row) => row.includes(String(workerPort))), `worker port ${workerPort} is in the Ports view: ${JSON.stringify(rows)}`);
  await screenshot('ports-view');
  control.kill('SIGKILL');
  await runCommand('Remote Plugins: Stop All');
});

uiTest('Run Plugin on File… in the explorer submenu streams a plugin that streams, and executes one that does not', async () => {
  fs.writeFileSync(path.join(workspaceFolder(), 'notes.txt'), 'first line\nsecond line\n');
  await explorerSubmenu('notes.txt', 'Remote Plugins', 'Run Plugin on File…');
  await pickQuickItem('vs-echo');
  const streamed = await webviewText('second line');
  assert.match(streamed, /3 items · /);
  await screenshot('run-plugin-stream');
  await runCommand('View: Close All Editors');
  await explorerSubmenu('notes.txt', 'Remote Plugins', 'Run Plugin on File…');
  await pickQuickItem('vs-single');
  // One result of flat fields is a property table.
  const executed = await webviewText(/folder\s*false/); // textContent: the cells have no space between them
  assert.match(executed, /name\s+notes\.txt/);
  await screenshot('run-plugin-execute');
  await runCommand('View: Close All Editors');
});

uiTest('a cold start and the plugin\'s progress show in the notification', async () => {
  fs.writeFileSync(path.join(workspaceFolder(), 'slow.txt'), 'x\n');
  await openFileFromExplorer('slow.txt');
  await runCommand('Remote Plugins: Run Plugin…');
  await pickQuickItem('vs-slow');
  const starting = await waitForNotification(/Starting vs-slow… \(first run loads the model\)/);
  assert.match(starting, /· \d+ s/);
  await screenshot('cold-start');
  // The panel says the same until the first item (the plugin's first item takes 4 s: a model warming up).
  const panelStatus = await waitForValue('the panel to say the plugin starts', () => inResults('#status').innerText(), (text) => /^Starting vs-slow…/.test(text));
  assert.match(panelStatus, /^Starting vs-slow… \(first run loads the model\) · \d+ s$/);
  await screenshot('cold-start-panel');
  const progress = await waitForNotification(/vs-slow.*streaming on slow\.txt · \d items? · [1-9]\d*%/);
  assert.match(progress, /\d+%/);
  await screenshot('progress');
  await webviewText(/5 items · /);
  await runCommand('View: Close All Editors');
});

uiTest('a failed start shows "failed" with its reason; the hover has the output; the notification offers Set Interpreter…', async () => {
  fs.writeFileSync(path.join(workspaceFolder(), 'failing.txt'), 'x\n');
  await openFileFromExplorer('failing.txt');
  await runCommand('Remote Plugins: Run Plugin…');
  await pickQuickItem('vs-failing');
  const buttons = await notificationButtons(/vs-failing.*did not start/);
  assert.deepEqual(buttons, ['Set Interpreter…', 'Show Logs', 'Open Manifest']);
  await showPlugins();
  await waitForTreeRow(/vs-failing\s*1\.0\.0 · failed · it exited with code \d+ before it was ready/);
  const hover = await treeRowHover(/vs-failing\s*1\.0\.0 · failed/, 'ModuleNotFoundError');
  assert.match(hover, /Failed to start/);
  assert.match(hover, /No module named 'vscode_missing_module'/);
  await screenshot('failed-start');
  // Until it starts, it comes last in the picker.
  await openFileFromExplorer('failing.txt');
  await runCommand('Remote Plugins: Run Plugin…');
  await page().locator('.quick-input-widget input[placeholder="Plugin to run on failing.txt"]').waitFor();
  await page().locator('.quick-input-list .monaco-list-row', { hasText: 'vs-echo' }).first().waitFor();
  // The list is virtual (only the rows on screen exist): the order is checked on those, the rest in test/vscode.
  const labels = await quickPickLabels();
  assert.notEqual(labels[0], 'vs-failing', JSON.stringify(labels));
  if (labels.includes('vs-failing')) assert.equal(labels[labels.length - 1], 'vs-failing', JSON.stringify(labels));
  await page().keyboard.type('vs-failing');
  const row = page().locator('.quick-input-list .monaco-list-row', { hasText: 'vs-failing' }).first();
  assert.match(await row.innerText(), /failed[\s\S]*did not start: it exited with code/);
  await screenshot('failed-last-in-picker');
  await page().keyboard.press('Escape');
  await runCommand('View: Close All Editors');
});

uiTest('a broken manifest is in the Problems panel at its place, and the tree opens it there', async () => {
  await runCommand('View: Focus Problems (Errors, Warnings, Infos)');
  const problem = page().locator('.part.panel .monaco-list-row', { hasText: '"class" is missing' }).first();
  await problem.waitFor();
  const text = (await problem.innerText()).replace(/\s+/g, ' ');
  assert.match(text, /Remote Plugins/);
  assert.match(text, /\[Ln 1, Col 1\]/);
  await screenshot('problems');
  await showPlugins();
  await (await waitForTreeRow(/vs-broken\s*broken/)).click();
  await page().locator('.part.editor .tab', { hasText: 'vs-broken.json' }).first().waitFor();
  await runCommand('View: Close All Editors');
});

uiTest('errors offer the buttons that fit: Show Logs for a crash, Restart for a crash loop, a hint and Reveal Input for an unreadable file, Configure… for a rejected configuration', async () => {
  fs.writeFileSync(path.join(workspaceFolder(), 'crash.txt'), 'x\n');
  await explorerSubmenu('crash.txt', 'Remote Plugins', 'Run Plugin on File…');
  await pickQuickItem('vs-crash');
  assert.deepEqual(await notificationButtons(/vs-crash.*crashed/), ['Show Logs']);
  await screenshot('error-crash');
  await runCommand('Notifications: Clear All Notifications');
  // maxRestarts is 0 in this window: after one crash the plugin is not restarted until the user says so.
  await explorerSubmenu('crash.txt', 'Remote Plugins', 'Run Plugin on File…');
  await pickQuickItem('vs-crash');
  assert.deepEqual(await notificationButtons(/vs-crash.*no longer restarted/), ['Restart', 'Show Logs']);
  await screenshot('error-crash-loop');
  await runCommand('Notifications: Clear All Notifications');
  await runCommand('View: Close All Editors');

  fs.writeFileSync(path.join(workspaceFolder(), 'raise.txt'), 'x\n');
  await explorerSubmenu('raise.txt', 'Remote Plugins', 'Run Plugin on File…');
  await pickQuickItem('vs-raise');
  const unreadable = await waitForNotification(/vs-raise: ValueError: cannot read raise\.txt/);
  assert.match(unreadable, /Check the input: raise\.txt may be damaged, empty or not the kind of file vs-raise reads \(it takes \.txt files\)/);
  assert.deepEqual(await notificationButtons(/vs-raise: ValueError/), ['Reveal Input', 'Show Logs']);
  await screenshot('error-unreadable-input');
  // The panel's error row says the same and offers the same buttons; Show Logs there opens the plugin's log.
  const errorRow = inResults('.file-status.error');
  await errorRow.waitFor();
  assert.match(await errorRow.innerText(), /vs-raise: ValueError: cannot read raise\.txt[\s\S]*Check the input: raise\.txt may be damaged/);
  assert.deepEqual((await inResults('.file-status.error .error-actions button').allInnerTexts()).map((text) => text.trim()), ['Reveal Input', 'Show Logs']);
  await inResults('.file-status.error .error-actions button', { hasText: 'Show Logs' }).click();
  await page().locator('.part.panel .monaco-editor .view-lines', { hasText: 'cannot read raise.txt' }).first().waitFor();
  await screenshot('error-row-in-panel');
  // The traceback is in the plugin's log once (the worker's stderr), not repeated with the error.
  const log = await extensionLogText('Plugin vs-raise.log', ['Traceback (most recent call last)', 'plugin: ValueError: cannot read raise.txt']);
  assert.equal(log.split('Traceback (most recent call last)').length - 1, 1, log);
  await runCommand('Notifications: Clear All Notifications');
  // The results panel (a webview) had the focus: VS Code gives it back when a picker closes, and a webview
  // takes it asynchronously, which can close the next picker as it opens. Close it first.
  await runCommand('View: Close All Editors');

  await runCommand('Remote Plugins: Configure…');
  // The list is long: filter it, as a user would (typed into the picker itself: the Output panel may hold the focus).
  await page().locator('.quick-input-widget input[placeholder="Plugin to configure"]').fill('vs-picky');
  await pickQuickItem('vs-picky');
  // Configure… is a flow whose changed values live in its picker until Save: the focus going elsewhere (a
  // click in the empty editor area) must not close it, or the next pick below would find no picker.
  await page().locator('.part.editor').click({ position: { x: 20, y: 200 } });
  await pickQuickItem('level');
  const input = page().locator('.quick-input-widget input');
  await input.fill('3');
  await page().keyboard.press('Enter');
  await pickQuickItem('Save and Apply');
  assert.deepEqual(await notificationButtons(/vs-picky rejected its configuration: ValueError: level must be even, got 3/), ['Configure…', 'Show Logs']);
  await screenshot('error-config');
  await runCommand('Notifications: Clear All Notifications');
  await runCommand('Remote Plugins: Stop All');
  await runCommand('View: Close All Editors');
});

uiTest('the interpreter picker of Create Plugin… lists a venv the test creates, with its version', async () => {
  const venv = path.join(workspaceFolder(), '.venv');
  execFileSync('python3', ['-m', 'venv', '--without-pip', venv]);
  const version = execFileSync(path.join(venv, 'bin', 'python'), ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8' }).trim();
  // No webview may hold the focus (see the test above): it would close the pickers as they open.
  await runCommand('View: Close All Editors');
  await runCommand('Remote Plugins: Create Plugin…');
  // The name box, not the command palette it replaces (which may still be closing).
  await page().locator('.quick-input-widget', { hasText: 'New plugin: name' }).first().waitFor();
  await page().locator('.quick-input-widget input:not([placeholder="Type the name of a command to run."])').first().fill('ui-made');
  await page().keyboard.press('Enter');
  const entry = `Python ${version} · ${path.basename(workspaceFolder())}/.venv`;
  await page().locator('.quick-input-list .monaco-list-row', { hasText: entry }).first().waitFor()
    .catch(() => { throw new Error(`the interpreter picker does not list "${entry}"`); });
  assert.ok((await quickPickLabels()).some((label) => label.startsWith('Python 3.')));
  await screenshot('interpreter-picker');
  await pickQuickItem(entry);
  await pickQuickItem('This workspace');
  await showPlugins();
  await waitForTreeRow(/ui-made\s*0\.1\.0 · stopped/);
  const manifest = JSON.parse(fs.readFileSync(path.join(workspaceFolder(), '.cjm', 'plugins', 'ui-made.json'), 'utf8')) as { python_path: string };
  assert.equal(manifest.python_path, path.join(venv, 'bin', 'python'));
  await runCommand('View: Close All Editors');
});
