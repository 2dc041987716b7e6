// The results panel's speed in a real VS Code (code-server's, in Debian's chromium), against the same
// stream read by `rpp stream` in the same run: how long the first item takes from the plugin to the
// screen, how long a 100,000-item series takes to be rendered completely, and whether the panel keeps
// answering clicks meanwhile (its longest main-thread task and its slowest click, against 100 ms).
//
//   node --import tsx bench/panel.ts     (alone; `npm run bench` runs it after the core figures)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  bench, ensureBench, freePort, makeTempDir, makeWorkspace, projectRoot, runMarker, startServer,
  survivingProcesses, testResultsDir, waitForHttp, writeSettings,
} from '../scripts/vscode-bench/bench';
import { launchChromium, type Locator, type Page } from '../scripts/vscode-bench/playwright';

const ITEMS = 100_000;
/** The plugin waits this long before its first item, so that the panel is open and instrumented. */
const FIRST_ITEM_DELAY_S = 5;
const LIMIT_MS = 100;
const fixtures = path.join(projectRoot, 'test', 'fixtures', 'manifests-results');

export interface PanelFigure {
  name: string;
  value: number;
  unit: string;
  baseline: string;
  baselineValue: number;
}

interface EvaluatingLocator extends Locator {
  evaluate<R, A>(fn: (element: unknown, arg: A) => R, arg: A): Promise<R>;
  evaluate(expression: string): Promise<unknown>;
}

/** The little of the webview's DOM the instrumentation uses (the bench's tsconfig has no DOM types). */
interface WebviewBody {
  dataset: Record<string, string | undefined>;
  ownerDocument: {
    defaultView: WebviewWindow;
    addEventListener(type: 'click', listener: (event: { timeStamp: number }) => void, capture: boolean): void;
    querySelector(selector: string): { dataset: Record<string, string | undefined> } | null;
  };
}

interface WebviewWindow {
  performance: { now(): number; timeOrigin: number };
  setInterval(callback: () => void, ms: number): void;
  PerformanceObserver: new (callback: (list: { getEntries(): Array<{ duration: number; startTime: number; attribution?: Array<{ containerType?: string; containerSrc?: string; name?: string }> }> }) => void) => { observe(options: object): void };
  addEventListener(type: 'message', listener: (event: { data: { type?: string; json?: string } }) => void): void;
  MutationObserver: new (callback: () => void) => { observe(target: unknown, options: object): void };
  __bench?: WebviewTimings;
}

/** What the instrumentation installed in the webview collects (see instrument()). */
interface WebviewTimings {
  firstRenderedMs?: number;
  allRenderedMs?: number;
  /** When the first and the last item reached the webview (its `items` messages). */
  firstArrivedMs?: number;
  lastArrivedMs?: number;
  messages: number;
  /** Every message the webview got: [wall time, type, characters of items JSON]. */
  log: Array<[number, string, number]>;
  longTaskTimes: Array<[number, number, string]>;
  longTasks: number[];
  maxHeartbeatGapMs: number;
  clickDelays: number[];
  /** When the webview's document was created and when the instrumentation was installed in it (wall clock). */
  createdMs: number;
  instrumentedMs: number;
}

/** Playwright's CDP session, for the optional CPU profile (PANEL_BENCH_PROFILE=file.cpuprofile). */
interface CdpSession {
  send(method: string, params?: object): Promise<unknown>;
}

const ITEMS_TEXT = ITEMS.toLocaleString('en-US');
/** The figures runPanelBench produces, by name. */
export const PANEL_FIGURES = [
  'panel: first item → on screen',
  `panel: ${ITEMS_TEXT} items → all on screen`,
  'panel: longest main-thread task meanwhile',
  'panel: slowest click answered meanwhile',
];

export async function runPanelBench(): Promise<PanelFigure[]> {
  ensureBench();
  build();
  const run = makeTempDir('panel-bench');
  const workspace = makeWorkspace({});
  const input = path.join(workspace, 'series.txt');
  // A new input for each stream: the result cache must not answer with the items an earlier stream made.
  const writeInput = (stream: string) => fs.writeFileSync(input, JSON.stringify({ count: ITEMS, delay_s: FIRST_ITEM_DELAY_S, run: `${stream}-${Date.now()}-${process.pid}` }));
  writeInput('cli');
  const cli = await cliBaseline(input);
  writeInput('panel');
  const userData = path.join(run, 'user-data');
  writeSettings(path.join(userData, 'User', 'settings.json'), {
    'remotePluginProxy.pluginDirs': [fixtures], 'workbench.startupEditor': 'none', 'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off', 'chat.disableAIFeatures': true, 'workbench.secondarySideBar.defaultVisibility': 'hidden',
  });
  writeSettings(path.join(userData, 'Machine', 'settings.json'), { 'remotePluginProxy.pluginDirs': [fixtures] });
  const marker = runMarker();
  const port = await freePort();
  const log = path.join(run, 'server.log');
  const server = startServer(bench.node24, [bench.serverMain, '--host', '127.0.0.1', '--port', String(port),
    '--without-connection-token', '--accept-server-license-terms', '--enable-smoke-test-driver', '--disable-workspace-trust', '--disable-telemetry',
    '--server-data-dir', path.join(run, 'server-data'), '--user-data-dir', userData, '--extensions-dir', path.join(run, 'extensions')],
  { ...process.env, [marker.name]: marker.value }, log);
  const context = await (async () => {
    await waitForHttp(`http://127.0.0.1:${port}/`, server, log);
    return launchChromium(path.join(run, 'chromium'));
  })();
  let orphans: string[] = [];
  let figures: PanelFigure[];
  const page = context.pages()[0] ?? await context.newPage();
  try {
    page.setDefaultTimeout(60_000);
    const payload = JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${port}${projectRoot}`]]);
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`);
    await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: 120_000 });
    await openFile(page, 'series.txt');
    const profiler = await startProfile(page);
    await command(page, 'Remote Plugins: Stream Plugin on File…');
    await pickQuickItem(page, 'rpp-series');
    const frame = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    const body = frame.locator('body') as EvaluatingLocator;
    await body.waitFor();
    // tsx compiles named functions with esbuild's keepNames, whose __name helper the page does not have.
    await body.evaluate('globalThis.__name = (fn) => fn');
    await body.evaluate(instrument, ITEMS);
    const timings = await clickUntilRendered(frame.locator('h2.file-name').first(), body);
    await profiler?.stop();
    const made = madeTimes(userData);
    const firstToScreen = timings.firstRenderedMs! - made.first;
    const allOnScreen = timings.allRenderedMs! - made.first;
    const longest = Math.max(0, ...timings.longTasks, timings.maxHeartbeatGapMs);
    const slowestClick = Math.max(0, ...timings.clickDelays);
    console.log(`  panel: messages: ${timings.log.map(([at, type, count]) => `${round(at - made.first)}:${type}${count ? `(${count} chars)` : ''}`).join(' ')}`);
    console.log(`  panel: the webview's page was created ${round(timings.createdMs - made.first)} ms and instrumented ${round(timings.instrumentedMs - made.first)} ms after the first item was made`);
    console.log(`  panel: items reached the webview from ${round(timings.firstArrivedMs! - made.first)} ms to ${round(timings.lastArrivedMs! - made.first)} ms after the first was made, in ${timings.messages} messages`);
    const slow = timings.longTaskTimes.filter(([, duration]) => duration > LIMIT_MS).map(([at, duration, where]) => `${round(at - made.first)} ms: ${round(duration)} ms (${where})`);
    if (slow.length > 0) console.log(`  panel: tasks over ${LIMIT_MS} ms: ${slow.slice(0, 12).join('; ')}`);
    console.log(`  panel: machine load average ${os.loadavg().map((load) => load.toFixed(1)).join(' ')} (1, 5, 15 min) on ${os.cpus().length} cores`);
    console.log(`  panel: the plugin made ${ITEMS} items in ${round(made.last - made.first)} ms; ${timings.longTasks.length} long tasks (> 50 ms), ` +
      `${timings.clickDelays.length} clicks during the stream; longest task ${round(longest)} ms ${longest <= LIMIT_MS ? '≤' : '>'} ${LIMIT_MS} ms`);
    figures = [
      { name: 'panel: first item → on screen', value: firstToScreen, unit: 'ms', baseline: 'rpp stream: first item → read', baselineValue: cli.first },
      { name: `panel: ${ITEMS.toLocaleString('en-US')} items → all on screen`, value: allOnScreen, unit: 'ms', baseline: `rpp stream: ${ITEMS.toLocaleString('en-US')} items read`, baselineValue: cli.all },
      { name: 'panel: longest main-thread task meanwhile', value: longest, unit: 'ms', baseline: 'the 100 ms limit', baselineValue: LIMIT_MS },
      { name: 'panel: slowest click answered meanwhile', value: slowestClick, unit: 'ms', baseline: 'the 100 ms limit', baselineValue: LIMIT_MS },
    ];
  } catch (error) {
    fs.mkdirSync(testResultsDir, { recursive: true });
    await page.screenshot({ path: path.join(testResultsDir, 'bench-panel-FAIL.png') }).catch(() => undefined);
    fs.copyFileSync(log, path.join(testResultsDir, 'bench-panel-server.log'));
    throw error;
  } finally {
    await context.close().catch(() => undefined);
    await server.stop();
    orphans = await survivingProcesses(marker);
    fs.rmSync(run, { recursive: true, force: true });
    fs.rmSync(path.dirname(workspace), { recursive: true, force: true });
  }
  if (orphans.length > 0) throw new Error(`processes outlived the panel bench:\n  ${orphans.join('\n  ')}`);
  return figures;
}

function build(): void {
  const result = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: projectRoot, stdio: 'ignore' });
  if (result.status !== 0) throw new Error('building the extension failed (node esbuild.mjs)');
}

/** The same stream through `rpp stream` into a pipe this process reads: the core's own latency and throughput. */
async function cliBaseline(input: string): Promise<{ first: number; all: number }> {
  const child = spawn(process.execPath, [path.join(projectRoot, 'dist', 'cli.js'), 'stream', 'rpp-series', input, '--plugins-dir', fixtures],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let firstRead = 0;
  let lastRead = 0;
  let firstMade = 0;
  let count = 0;
  let rest = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const now = Date.now();
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    if (lines.length === 0) return;
    if (count === 0) {
      firstRead = now;
      firstMade = Number((JSON.parse(lines[0]!) as { made_ms: string }).made_ms);
    }
    lastRead = now;
    count += lines.length;
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0 || count !== ITEMS) throw new Error(`rpp stream gave ${count} items (exit code ${code}), not ${ITEMS}`);
  return { first: firstRead - firstMade, all: lastRead - firstMade };
}

/**
 * With PANEL_BENCH_PROFILE=file.cpuprofile, a CPU profile of the window's renderer (the workbench and the
 * webviews in its process) from the command to the last item on screen, for Chrome DevTools.
 */
async function startProfile(page: Page): Promise<{ stop(): Promise<void> } | undefined> {
  const file = process.env.PANEL_BENCH_PROFILE;
  if (!file) return undefined;
  const withContext = page as unknown as { context(): { newCDPSession(page: Page): Promise<CdpSession> } };
  const session = await withContext.context().newCDPSession(page);
  await session.send('Profiler.enable');
  await session.send('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.send('Profiler.stop') as { profile: unknown };
      fs.writeFileSync(path.resolve(file), JSON.stringify(profile));
      console.log(`  panel: CPU profile written to ${path.resolve(file)}`);
    },
  };
}

/** The quick input that takes keys: one that is closing (class quick-input-widget-closing) is inert. */
const QUICK_INPUT = '.quick-input-widget:not(.quick-input-widget-closing)';

/** Runs a command from the palette by its full title, as test/ui/helpers.ts's runCommand does. */
async function command(page: Page, title: string): Promise<void> {
  const input = page.locator(`${QUICK_INPUT} input`);
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    // The palette can close again right away (the workbench taking focus): fill within the retry.
    try {
      await input.waitFor({ state: 'visible', timeout: 2000 });
      await input.fill(`>${title}`, { timeout: 2000 });
      break;
    } catch (error) { if (attempt === 10) throw error; }
  }
  const rows = page.locator(`${QUICK_INPUT} .quick-input-list .monaco-list-row`);
  await rows.filter({ hasText: title }).first().waitFor({ timeout: 30_000 }).catch(() => { throw new Error(`no command titled "${title}" in the palette`); });
  // The first row may be another command whose title contains this one: click the exact one.
  const texts = await rows.allInnerTexts();
  const exact = texts.findIndex((text) => text.replace(/\u00a0/g, ' ').split('\n').some((line) => line.trim() === title));
  if (exact >= 0) await rows.nth(exact).click();
  else await page.keyboard.press('Enter');
}

/** Picks an item in the open quick pick (e.g. the plugin a command asks for). */
async function pickQuickItem(page: Page, label: string): Promise<void> {
  const row = page.locator(`${QUICK_INPUT} .quick-input-list .monaco-list-row`, { hasText: label }).first();
  await row.waitFor({ timeout: 30_000 }).catch(() => { throw new Error(`no "${label}" in the quick pick`); });
  await row.click();
}

async function openFile(page: Page, name: string): Promise<void> {
  await command(page, 'Go to File...');
  await page.locator(`${QUICK_INPUT} input`).fill(name);
  await pickQuickItem(page, name);
  await page.locator('.part.editor .tab', { hasText: name }).first().waitFor();
}

/**
 * Runs inside the webview: records when the first item and the last are on screen (wall clock), every long
 * task the browser reports, the longest gap of a 10 ms heartbeat (a task that kept the thread busy), and how
 * long each click waited before its handler ran.
 */
function instrument(element: unknown, items: number): void {
  const page = element as WebviewBody;
  const view = page.ownerDocument.defaultView;
  const wall = () => view.performance.timeOrigin + view.performance.now();
  const timings: WebviewTimings = {
    longTasks: [], longTaskTimes: [], maxHeartbeatGapMs: 0, clickDelays: [], messages: 0, log: [], createdMs: view.performance.timeOrigin, instrumentedMs: wall(),
  };
  view.addEventListener('message', (event) => {
    // Items travel as one JSON string per message: its length in characters (not parsed twice here).
    const size = event.data?.json?.length ?? 0;
    timings.log.push([wall(), String(event.data?.type), size]);
    if (event.data?.type !== 'items' || !event.data.json) return;
    const now = wall();
    timings.firstArrivedMs ??= now;
    timings.lastArrivedMs = now;
    timings.messages += 1;
  });
  view.__bench = timings;
  try {
    new view.PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        timings.longTasks.push(entry.duration);
        const where = entry.attribution?.[0];
        timings.longTaskTimes.push([view.performance.timeOrigin + entry.startTime, entry.duration, `${where?.name ?? '?'}/${where?.containerType ?? ''}`]);
      }
    }).observe({ type: 'longtask', buffered: true });
  } catch { /* no Long Tasks API: the heartbeat still measures */ }
  let last = view.performance.now();
  view.setInterval(() => {
    const now = view.performance.now();
    timings.maxHeartbeatGapMs = Math.max(timings.maxHeartbeatGapMs, now - last - 10);
    last = now;
  }, 10);
  page.ownerDocument.addEventListener('click', (event) => { timings.clickDelays.push(view.performance.now() - event.timeStamp); }, true);
  const check = () => {
    const rendered = Number(page.dataset.rendered ?? 0);
    if (rendered >= 1 && timings.firstRenderedMs === undefined) timings.firstRenderedMs = wall();
    const points = Number(page.ownerDocument.querySelector('.series-view')?.dataset.points ?? 0);
    if (rendered >= items && points >= items && timings.allRenderedMs === undefined) timings.allRenderedMs = wall();
  };
  new view.MutationObserver(check).observe(page.ownerDocument, { attributes: true, subtree: true, attributeFilter: ['data-rendered', 'data-points'] });
}

/** Clicks the section heading every 250 ms (a user reading along) until every item is on screen. */
async function clickUntilRendered(target: Locator, body: EvaluatingLocator): Promise<WebviewTimings> {
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    const timings = await body.evaluate((element) => (element as WebviewBody).ownerDocument.defaultView.__bench!, undefined);
    if (timings.allRenderedMs !== undefined) return timings;
    if (Date.now() > deadline) throw new Error(`the panel did not render ${ITEMS} items within 5 minutes (first on screen: ${timings.firstRenderedMs !== undefined})`);
    if (timings.firstRenderedMs !== undefined) await target.click({ timeout: 10_000 }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** When the plugin made its first and last item: the `made_ms` the fixture put in them, read back from the run history. */
function madeTimes(userData: string): { first: number; last: number } {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'items-0.ndjson') files.push(full);
    }
  };
  walk(userData);
  const file = files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  if (!file) throw new Error(`no recorded run under ${userData}`);
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  const madeOf = (line: string) => Number((JSON.parse(line) as { made_ms: string }).made_ms);
  return { first: madeOf(lines[0]!), last: madeOf(lines.at(-1)!) };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const figures = await runPanelBench();
  for (const f of figures) console.log(`${f.name.padEnd(44)} ${String(round(f.value)).padStart(10)} ${f.unit.padEnd(4)} vs ${f.baseline}: ${round(f.baselineValue)} (ratio ${round(f.value / f.baselineValue * 100) / 100})`);
}
