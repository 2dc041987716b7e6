// The results webview: one run (or two side by side, to compare), each input file in its own section,
// rendered by the shape of its results as they stream in. Messages from the extension (messages.ts)
// are queued and turned into DOM in slices, so that the page answers clicks while 100,000 items arrive.
import 'uplot/dist/uPlot.min.css';
import './base.css';
import './results.css';
import { plural, formatDuration } from '../core/resultText';
import { button, el } from './dom';
import { FileSection } from './fileSection';
import type { FromWebview, RunHeader, RunSummaryView, SourceMedia, ToWebview } from './messages';
import { PathResolver } from './pathValues';
import { SlicedWork } from './scheduler';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void };

const vscode = acquireVsCodeApi();
const post = (message: FromWebview) => vscode.postMessage(message);
const resolver = new PathResolver(post);
const app = document.getElementById('app')!;

interface RunView {
  header: RunHeader;
  element: HTMLElement;
  sections: FileSection[];
  received: number;
  summary?: RunSummaryView;
}

let runs: RunView[] = [];
let reportedCount = -1;
const REPORT_INTERVAL_MS = 200;
let lastReport = 0;
const toolbar = el('header', 'toolbar');
const statusText = el('span', 'status');
statusText.id = 'status';
statusText.setAttribute('role', 'status');

const work = new SlicedWork(step, afterSlice);
/** The user was at the bottom when items arrived: scroll to the newest after the slice. */
let pendingFollow = false;

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'reset': return reset(message.layout, message.runs);
    case 'file': return addSection(message.run, message.file, message.path, message.media);
    case 'items': return addItems(message.run, message.file, JSON.parse(message.json) as unknown[]);
    case 'fileEnd': return runs[message.run]?.sections[message.file]?.end(message.error, message.cancelled, message.actions, (id) => post({ type: 'action', id }));
    case 'end': return endRun(message.run, message.summary);
    case 'paths': return resolver.receive(message.resolved);
  }
});

function reset(layout: 'single' | 'compare', headers: RunHeader[]): void {
  document.body.dataset.layout = layout;
  document.body.dataset.state = headers.some((header) => header.live) ? 'running' : 'done';
  document.body.dataset.count = '0';
  document.body.dataset.rendered = '0';
  reportedCount = -1;
  runs = headers.map((header) => ({ header, element: el('div', 'run'), sections: [], received: 0 }));
  buildToolbar(layout, headers);
  const columns = el('main', 'runs');
  columns.id = 'results';
  for (const run of runs) {
    if (layout === 'compare') {
      const heading = el('div', 'run-heading');
      heading.append(el('h1', 'run-title', run.header.title));
      if (run.header.detail) heading.append(el('div', 'run-detail', run.header.detail));
      run.element.append(heading);
    }
    columns.append(run.element);
  }
  app.replaceChildren(toolbar, columns);
  updateStatus();
  clearInterval(ticker);
  if (document.body.dataset.state === 'running') ticker = setInterval(updateStatus, 1000);
}

/** Ticks the elapsed time of a live run, once a second, until it ends. */
let ticker: ReturnType<typeof setInterval> | undefined;

function buildToolbar(layout: 'single' | 'compare', headers: RunHeader[]): void {
  const title = el('span', 'title', layout === 'compare' ? `Compare ${headers[0]?.plugin ?? ''} runs` : `${headers[0]?.plugin ?? ''} · ${headers[0]?.title ?? ''}`);
  title.id = 'title';
  const buttons: HTMLButtonElement[] = [];
  if (layout === 'single') {
    const live = headers[0]?.live ?? false;
    if (live) {
      const stop = button('Stop', 'primary', () => {
        stop.disabled = true;
        statusText.textContent = 'Stopping…';
        post({ type: 'stop' });
      }, 'Stop the run (the results so far are kept)');
      stop.id = 'stop';
      buttons.push(stop);
    }
    buttons.push(withId(button('Copy', 'secondary', () => post({ type: 'copy' }), 'Copy the results as text, one item per line'), 'copy'));
    buttons.push(withId(button('Save…', 'secondary', () => post({ type: 'save' }), 'Save as JSON, JSON Lines or CSV'), 'save'));
    const rerun = withId(button('Run Again', 'secondary', () => post({ type: 'rerun' }), 'Run the plugin again on the same files'), 'rerun');
    rerun.hidden = live;
    buttons.push(rerun);
  } else {
    buttons.push(withId(button('Show JSON Diff', 'secondary', () => post({ type: 'diff' }), "Compare the two runs' JSON in VS Code's diff editor"), 'diff'));
  }
  if (headers[0]?.detail && layout === 'single') title.title = headers[0].detail;
  toolbar.replaceChildren(title, statusText, ...buttons);
}

function withId<T extends HTMLElement>(element: T, id: string): T {
  element.id = id;
  return element;
}

function addSection(runIndex: number, fileIndex: number, path: string, media: SourceMedia | undefined): void {
  const run = runs[runIndex];
  if (!run) return;
  const section = new FileSection(path, media, resolver, run.header.hint);
  run.sections[fileIndex] = section;
  run.element.append(section.element);
}

function addItems(runIndex: number, fileIndex: number, items: unknown[]): void {
  const run = runs[runIndex];
  const section = run?.sections[fileIndex];
  if (!run || !section) return;
  section.add(items);
  run.received += items.length;
  document.body.dataset.count = String(totalReceived());
  pendingFollow ||= atBottom;
  work.request();
}

/** Whether the user is at the bottom of a page that scrolls, kept by scroll events (reading it per message would force a layout). */
let atBottom = false;
function updateAtBottom(): void {
  const scroller = document.scrollingElement ?? document.documentElement;
  atBottom = scroller.scrollTop > 0 && scroller.scrollTop + window.innerHeight >= scroller.scrollHeight - 40;
}
window.addEventListener('scroll', updateAtBottom, { passive: true });
window.addEventListener('resize', updateAtBottom, { passive: true });

function step(): boolean {
  for (const run of runs) {
    for (const section of run.sections) {
      if (section?.busy) return section.step() || anyBusy();
    }
  }
  return false;
}

function anyBusy(): boolean {
  return runs.some((run) => run.sections.some((section) => section?.busy));
}

/** After a slice of work: follow the newest items if the user was at the bottom, report progress (at most every 200 ms, and when done). */
function afterSlice(): void {
  if (pendingFollow && document.body.dataset.layout === 'single') window.scrollTo(0, document.body.scrollHeight);
  pendingFollow = false;
  const busy = anyBusy();
  const now = performance.now();
  if (busy && now - lastReport < REPORT_INTERVAL_MS) return;
  lastReport = now;
  updateStatus();
  for (const run of runs) for (const section of run.sections) section?.updateCount();
  const rendered = busy ? renderedSoFar() : totalReceived();
  document.body.dataset.rendered = String(rendered);
  if (rendered !== reportedCount) {
    reportedCount = rendered;
    post({ type: 'rendered', count: rendered });
  }
}

function totalReceived(): number {
  return runs.reduce((sum, run) => sum + run.received, 0);
}

function renderedSoFar(): number {
  return runs.reduce((sum, run) => sum + run.sections.reduce((s, section) => s + (section && !section.busy ? section.count : 0), 0), 0);
}

function endRun(runIndex: number, summary: RunSummaryView): void {
  const run = runs[runIndex];
  if (!run) return;
  run.summary = summary;
  if (summary.interrupted) for (const section of run.sections) section?.interrupted();
  if (runs.every((r) => r.summary)) {
    const state = summary.interrupted ? 'interrupted' : summary.cancelled ? 'cancelled' : summary.errors > 0 ? 'failed' : 'done';
    document.body.dataset.state = state;
    const stop = document.getElementById('stop') as HTMLButtonElement | null;
    if (stop) {
      stop.disabled = true;
      stop.hidden = true;
    }
    const rerun = document.getElementById('rerun');
    if (rerun) rerun.hidden = false;
    clearInterval(ticker);
  }
  updateStatus();
  work.request();
}

function updateStatus(): void {
  if (document.body.dataset.layout === 'compare') {
    statusText.textContent = runs.map((run) => run.summary ? summaryText(run.summary) : plural(run.received, 'item')).join('  |  ');
    return;
  }
  const run = runs[0];
  if (!run) return;
  statusText.textContent = run.summary ? summaryText(run.summary) : liveText(run);
}

/** A cold start says so until the first item (the first run may load a model); then the count; with the elapsed time. */
function liveText(run: RunView): string {
  const { header } = run;
  const elapsed = header.startedAt === undefined ? '' : ` · ${elapsedText(Date.now() - header.startedAt)}`;
  if (header.cold && run.received === 0) return `Starting ${header.plugin}… (first run loads the model)${elapsed}`;
  return `Running… ${plural(run.received, 'item')}${elapsed}`;
}

/** Whole seconds for a clock that ticks each second. */
function elapsedText(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return seconds < 60 ? `${seconds} s` : formatDuration(seconds * 1000);
}

function summaryText(summary: RunSummaryView): string {
  const parts = [plural(summary.items, 'item'), formatDuration(summary.durationMs)];
  if (summary.files > 1) parts.push(`${summary.files} files`);
  if (summary.errors > 0) parts.push(`${summary.errors} failed`);
  if (summary.interrupted) parts.push('interrupted');
  else if (summary.cancelled) parts.push('cancelled');
  return parts.join(' · ');
}

post({ type: 'ready' });
