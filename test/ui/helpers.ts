/*
 * UI-test helpers: a test drives a real VS Code (code-server, in Debian's chromium) the way a user does,
 * with the extension installed from the packaged .vsix (`npm run package`). Each helper waits for a
 * condition (never a fixed time) and fails with a message that says what did not appear.
 *
 *   import { useVsCode, uiTest, openView, treeRows } from './helpers';
 *   useVsCode();                                  // one code-server for this file: started before, stopped after
 *   uiTest('the sidebar lists the plugins', async () => {
 *     await openView('Plugins');
 *     assert.ok((await treeRows()).some((row) => row.startsWith('audio-levels')));
 *   });
 *
 * uiTest saves a screenshot of every test to test-results/<file>--<test>.png; a failure also saves
 * <...>-FAIL.png and the VS Code logs (the extension's are in exthost*\/) to test-results/<...>-logs/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  bench, examplePluginDirs, freePort, makeTempDir, makeWorkspace, runMarker, startServer,
  survivingProcesses, testResultsDir, vsixPath, waitForHttp, writeSettings, type Server,
} from '../../scripts/vscode-bench/bench';
import { launchChromium, type BrowserContext, type Locator, type Page } from '../../scripts/vscode-bench/playwright';

/** How long a helper waits for its condition. Generous: the machine is shared and noisy. */
const WAIT_MS = 30_000;

export interface VsCodeOptions {
  /** Trust the workspace through the UI (default), or leave it in Restricted Mode. */
  trustWorkspace?: boolean;
  /** User settings (they apply in Restricted Mode too). Default: pluginDirs = the example plugin folders. */
  userSettings?: Record<string, unknown>;
  /** Settings written to the workspace's .vscode/settings.json. */
  workspaceSettings?: Record<string, unknown>;
}

interface Session {
  server: Server; context: BrowserContext; page: Page; workspace: string; userData: string; run: string;
  marker: ReturnType<typeof runMarker>;
}

let session: Session | undefined;

function current(): Session {
  if (!session) throw new Error('VS Code is not running: call useVsCode() at the top of the test file');
  return session;
}

/** The page of the running workbench, for assertions the helpers do not cover. */
export function page(): Page { return current().page; }

/** The temp copy of examples/workspace that VS Code has open. */
export function workspaceFolder(): string { return current().workspace; }

const quietUserSettings = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  // The chat side bar takes a third of the window in screenshots; it is no part of what we test.
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

async function startVsCode(options: VsCodeOptions): Promise<Session> {
  if (!fs.existsSync(vsixPath)) throw new Error(`${vsixPath} is missing: run \`npm run package\` first (npm run test:ui does)`);
  const run = makeTempDir('ui');
  const [home, userData, extensions] = ['home', 'user-data', 'extensions'].map((d) => path.join(run, d));
  fs.mkdirSync(home);
  const userSettings = options.userSettings ?? { 'remotePluginProxy.pluginDirs': examplePluginDirs() };
  writeSettings(path.join(userData, 'User', 'settings.json'), { ...quietUserSettings, ...userSettings });
  const workspace = makeWorkspace(options.workspaceSettings ?? {});
  const port = await freePort();
  const config = path.join(run, 'config.yaml');
  fs.writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const marker = runMarker();
  // HOME is a temp folder so the tests never see the user's ~/.cjm/plugins.
  const env = { ...process.env, HOME: home, [marker.name]: marker.value };
  const codeServer = [bench.codeServer, '--config', config, '--user-data-dir', userData, '--extensions-dir', extensions];
  const serverLog = path.join(run, 'code-server.log');
  const install = startServer(bench.node24, [...codeServer, '--install-extension', vsixPath], env, serverLog);
  const installed = await new Promise<number | null>((resolve) => install.process.once('exit', resolve));
  await install.stop();
  if (installed !== 0) throw new Error(`installing ${vsixPath} failed (exit ${installed}); see ${serverLog}`);
  const server = startServer(bench.node24, [...codeServer, '--disable-telemetry', '--disable-update-check',
    '--disable-getting-started-override', workspace], env, serverLog);
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, server, serverLog);
  const context = await launchChromium(path.join(run, 'chromium'));
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  session = { server, context, page, workspace, userData, run, marker };
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
  await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: 90_000 });
  if (options.trustWorkspace ?? true) await trustWorkspace();
  else await restrictedModeIndicator().waitFor({ timeout: 90_000 });
  return session;
}

async function stopVsCode(): Promise<void> {
  const ending = session;
  session = undefined;
  if (!ending) return;
  await ending.context.close().catch(() => undefined);
  await ending.server.stop();
  const orphans = await survivingProcesses(ending.marker);
  fs.rmSync(ending.run, { recursive: true, force: true });
  fs.rmSync(path.dirname(ending.workspace), { recursive: true, force: true });
  if (orphans.length > 0) throw new Error(`processes outlived VS Code:\n  ${orphans.join('\n  ')}`);
}

/** One code-server + browser for the calling test file: started before its tests, stopped after (also on failure). */
export function useVsCode(options: VsCodeOptions = {}): void {
  before(async () => {
    try {
      await startVsCode(options);
    } catch (error) {
      await saveFailureArtifacts('startup');
      throw error;
    }
  }, { timeout: 240_000 });
  after(stopVsCode);
}

function artifactName(testName: string): string {
  const file = path.basename(process.argv[1] ?? 'ui', '.ts').replace(/\.ui\.test$/, '');
  return `${file}--${testName}`.replace(/[^\w.-]+/g, '-').slice(0, 120);
}

/** Saves a screenshot of the whole workbench to test-results/<name>.png and returns its path. */
export async function screenshot(name: string): Promise<string> {
  fs.mkdirSync(testResultsDir, { recursive: true });
  const file = path.join(testResultsDir, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await current().page.screenshot({ path: file });
  return file;
}

async function saveFailureArtifacts(testName: string): Promise<void> {
  if (!session) return;
  const name = artifactName(testName);
  await screenshot(`${name}-FAIL`).catch(() => undefined);
  const logs = path.join(session.userData, 'logs');
  if (fs.existsSync(logs)) fs.cpSync(logs, path.join(testResultsDir, `${name}-logs`), { recursive: true });
  const serverLog = path.join(session.run, 'code-server.log');
  if (fs.existsSync(serverLog)) fs.copyFileSync(serverLog, path.join(testResultsDir, `${name}-code-server.log`));
}

/** A node:test test that screenshots the workbench at its end, and saves a screenshot and the logs if it fails. */
export function uiTest(name: string, body: () => Promise<void>): void {
  test(name, { timeout: 180_000 }, async () => {
    try {
      await body();
    } catch (error) {
      await saveFailureArtifacts(name);
      throw error;
    }
    await screenshot(artifactName(name));
  });
}

/** Text as VS Code renders it: the editor and panels use non-breaking spaces. */
function normalize(text: string): string {
  return text.replace(/\u00a0/g, ' ').trim();
}

function restrictedModeIndicator(): Locator {
  return current().page.locator('.part.statusbar .statusbar-item', { hasText: 'Restricted Mode' }).first();
}

/** Opens the command palette (F1 can be swallowed while the workbench is busy: retried) and runs a command by its title. */
export async function runCommand(title: string): Promise<void> {
  const { page } = current();
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    // The palette can close again right away (a notification or the workbench taking focus): fill within the retry.
    try {
      await input.waitFor({ state: 'visible', timeout: 2000 });
      await input.fill(`>${title}`, { timeout: 2000 });
      break;
    } catch (error) { if (attempt === 10) throw error; }
  }
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ timeout: WAIT_MS }).catch(() => { throw new Error(`no command titled "${title}" in the palette`); });
  // The first row may be another command whose title contains this one ("Run Plugin…" in "Run Plugin on File…"): click the exact one.
  const rows = page.locator('.quick-input-list .monaco-list-row');
  const texts = await rows.allInnerTexts();
  const exact = texts.findIndex((text) => normalize(text).split('\n').some((line) => line.trim() === title));
  if (exact >= 0) await rows.nth(exact).click();
  else await page.keyboard.press('Enter');
}

/** Picks an item in an open quick pick (e.g. the plugin a command asks for). */
export async function pickQuickItem(label: string): Promise<void> {
  // Not in a picker that is closing (VS Code makes it inert for its closing animation).
  const row = current().page.locator('.quick-input-widget:not(.quick-input-widget-closing) .quick-input-list .monaco-list-row', { hasText: label }).first();
  await row.waitFor({ timeout: WAIT_MS }).catch(() => { throw new Error(`no "${label}" in the quick pick`); });
  await row.click();
}

/** Trusts the open folder through the UI, as a user does: Manage Workspace Trust → Trust. */
export async function trustWorkspace(): Promise<void> {
  const { page } = current();
  const indicator = restrictedModeIndicator();
  await indicator.waitFor({ timeout: 90_000 });
  await runCommand('Workspaces: Manage Workspace Trust');
  const trustButton = page.locator('.workspace-trust-editor .monaco-button', { hasText: /^Trust/ }).first();
  await trustButton.waitFor();
  // The first click can land while the trust editor is still laying out: click until Restricted Mode is gone.
  for (let attempt = 1; ; attempt++) {
    await trustButton.click({ timeout: 2000 }).catch(() => undefined);
    try { await indicator.waitFor({ state: 'hidden', timeout: 2000 }); break; } catch (error) { if (attempt === 10) throw error; }
  }
  await runCommand('View: Close All Editors');
  await page.locator('.workspace-trust-editor').first().waitFor({ state: 'hidden' });
}

/** True while the window is in Restricted Mode (the workspace is not trusted). */
export async function isRestrictedMode(): Promise<boolean> {
  return restrictedModeIndicator().isVisible();
}

/** Clicks a view container in the activity bar (e.g. "Plugins", "Explorer") and waits for its sidebar. */
export async function openView(title: string): Promise<void> {
  const { page } = current();
  const item = page.locator(`.part.activitybar .action-item a[aria-label^="${title}"], ` +
    `.part.activitybar .action-label[aria-label^="${title}"]`).first();
  await item.waitFor().catch(() => { throw new Error(`no "${title}" in the activity bar`); });
  // Clicking the container that is already shown would hide the sidebar.
  if ((await item.getAttribute('aria-expanded')) !== 'true') await item.click();
  await page.locator('.part.sidebar').first().waitFor();
}

/** The visible rows of the sidebar's trees (label and description as shown), once at least one is there. */
export async function treeRows(): Promise<string[]> {
  const rows = current().page.locator('.part.sidebar .monaco-list-row');
  await rows.first().waitFor().catch(() => { throw new Error('the sidebar shows no tree rows'); });
  return (await rows.allInnerTexts()).map((text) => normalize(text).replace(/\s*\n\s*/g, ' '));
}

/** Waits until a sidebar tree row contains the text, and returns that row. */
export async function waitForTreeRow(text: string | RegExp): Promise<Locator> {
  const row = current().page.locator('.part.sidebar .monaco-list-row', { hasText: text }).first();
  await row.waitFor().catch(() => { throw new Error(`no sidebar row with ${String(text)}`); });
  return row;
}

function explorerRow(name: string): Locator {
  return current().page.locator('.part.sidebar .explorer-folders-view .monaco-list-row', { hasText: name }).first();
}

/** Shows the Explorer and opens a file of the workspace's top level by clicking it, like a user. */
export async function openFileFromExplorer(name: string): Promise<void> {
  const { page } = current();
  await runCommand('View: Show Explorer');
  const row = explorerRow(name);
  await row.waitFor().catch(() => { throw new Error(`no "${name}" in the Explorer`); });
  await row.dblclick();
  await page.locator('.part.editor .tab', { hasText: name }).first().waitFor();
}

/** Right-clicks a file in the Explorer and chooses an entry of its context menu. */
export async function explorerContextMenu(name: string, item: string): Promise<void> {
  const { page } = current();
  await runCommand('View: Show Explorer');
  const row = explorerRow(name);
  await row.waitFor().catch(() => { throw new Error(`no "${name}" in the Explorer`); });
  await row.click({ button: 'right' });
  const entry = page.locator('.monaco-menu .action-item', { hasText: item }).first();
  await entry.waitFor().catch(() => { throw new Error(`no "${item}" in the context menu of ${name}`); });
  await chooseMenuEntry(entry, '.monaco-menu');
}

/**
 * Clicks an entry of an open context menu. The click can leave the menu open with the entry highlighted
 * (the menu took it for a hover): when the menu is still there a moment later, Enter chooses it, as a user would.
 */
export async function chooseMenuEntry(entry: Locator, menu: string): Promise<void> {
  await entry.click();
  const open = current().page.locator(menu).first();
  const closed = await open.waitFor({ state: 'hidden', timeout: 1500 }).then(() => true, () => false);
  if (!closed) await current().page.keyboard.press('Enter');
}

/** Waits for a notification containing the text and returns its full message. */
export async function waitForNotification(text: string | RegExp): Promise<string> {
  const toast = current().page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
  await toast.waitFor().catch(() => { throw new Error(`no notification with ${String(text)}`); });
  return normalize(await toast.innerText());
}

/** The text of the active webview (its content lives two iframes deep), once it contains `expected`. */
export async function webviewText(expected: string | RegExp = /\S/): Promise<string> {
  const content = current().page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
  const body = content.locator('body');
  await content.locator('body', { hasText: expected }).waitFor().catch(() => { throw new Error(`no webview shows ${String(expected)}`); });
  return normalize(await body.innerText());
}

/**
 * Shows an output channel in the Output panel and returns its visible text once it contains `expected`.
 * The panel renders only the visible lines: check long logs from the extension-host tests instead.
 */
export async function outputChannelText(name: string, expected: string | RegExp = /\S/): Promise<string> {
  const { page } = current();
  await runCommand('Output: Show Output Channels...');
  await pickQuickItem(name);
  const lines = page.locator('.part.panel .monaco-editor .view-lines').first();
  const matching = page.locator('.part.panel .monaco-editor .view-lines', { hasText: expected }).first();
  await matching.waitFor().catch(() => { throw new Error(`output channel "${name}" does not show ${String(expected)}`); });
  return normalize(await lines.innerText());
}

/** Right-clicks a file or folder in the Explorer, opens a submenu of its context menu and chooses an entry in it. */
export async function explorerSubmenu(name: string, submenu: string, item: string): Promise<void> {
  const { page } = current();
  await runCommand('View: Show Explorer');
  const row = explorerRow(name);
  await row.waitFor().catch(() => { throw new Error(`no "${name}" in the Explorer`); });
  await row.click({ button: 'right' });
  const parent = page.locator('.monaco-menu .action-item', { hasText: submenu }).first();
  await parent.waitFor().catch(() => { throw new Error(`no "${submenu}" in the context menu of ${name}`); });
  await parent.hover();
  const entry = page.locator('.monaco-submenu .action-item', { hasText: item }).first();
  await entry.waitFor().catch(() => { throw new Error(`no "${item}" in the "${submenu}" submenu of ${name}`); });
  await chooseMenuEntry(entry, '.monaco-submenu');
}

/** The entries of the Explorer context menu of a file or folder (the menu is closed again). */
export async function explorerMenuEntries(name: string): Promise<string[]> {
  const { page } = current();
  await runCommand('View: Show Explorer');
  const row = explorerRow(name);
  await row.waitFor().catch(() => { throw new Error(`no "${name}" in the Explorer`); });
  await row.click({ button: 'right' });
  const entries = page.locator('.monaco-menu .action-item .action-label');
  await entries.first().waitFor().catch(() => { throw new Error(`no context menu for ${name}`); });
  const labels = (await entries.allInnerTexts()).map(normalize).filter((label) => label !== '');
  await page.keyboard.press('Escape');
  return labels;
}

/** The buttons of the notification that contains the text. */
export async function notificationButtons(text: string | RegExp): Promise<string[]> {
  const toast = current().page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
  await toast.waitFor().catch(() => { throw new Error(`no notification with ${String(text)}`); });
  return (await toast.locator('.monaco-button').allInnerTexts()).map(normalize).filter((label) => label !== '');
}

/** Hovers a sidebar tree row and returns its tooltip's text once it contains `expected`. */
export async function treeRowHover(row: string | RegExp, expected: string | RegExp): Promise<string> {
  const { page } = current();
  const target = await waitForTreeRow(row);
  const hover = page.locator('.monaco-hover, .workbench-hover', { hasText: expected }).first();
  for (let attempt = 1; ; attempt++) {
    await target.hover();
    // Read it while it shows: a hover can close between appearing and being read (then hover again).
    try { return normalize(await hover.innerText({ timeout: 3000 })); } catch (error) {
      if (attempt === 5) throw new Error(`the hover of ${String(row)} does not show ${String(expected)} (${String(error)})`);
      await page.locator('.part.statusbar').hover();
    }
  }
}

/** The rows of the open quick pick (their labels), once at least one is shown. */
export async function quickPickLabels(): Promise<string[]> {
  const rows = current().page.locator('.quick-input-list .monaco-list-row .quick-input-list-row:first-child .label-name');
  await rows.first().waitFor().catch(() => { throw new Error('the quick pick shows no rows'); });
  return (await rows.allInnerTexts()).map(normalize);
}

/** The text of an extension log file of this window (e.g. "Plugin vs-raise.log"), once it contains every one of `expected`. */
export async function extensionLogText(fileName: string, expected: Array<string | RegExp>): Promise<string> {
  const logs = path.join(current().userData, 'logs');
  const deadline = Date.now() + WAIT_MS;
  let text = '';
  for (;;) {
    const files = fs.existsSync(logs) ? fs.readdirSync(logs, { recursive: true, encoding: 'utf8' }).filter((file) => path.basename(file) === fileName) : [];
    text = files.map((file) => fs.readFileSync(path.join(logs, file), 'utf8')).join('\n');
    if (expected.every((part) => (typeof part === 'string' ? text.includes(part) : part.test(text)))) return text;
    if (Date.now() > deadline) throw new Error(`the log ${fileName} does not show ${expected.map(String).join(', ')}:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
