// Reaching into the results webview from a UI test: its document (two iframes deep), values only a script
// can read (an <audio>'s currentTime), and waiting for them with a deadline.
import type { FrameLocator, Locator } from '../../scripts/vscode-bench/playwright';
import { explorerContextMenu, page, pickQuickItem } from './helpers';

/** What the tests read of an element inside the webview (this tsconfig has no DOM types). */
export interface PageElement {
  readonly currentTime: number;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
  getBoundingClientRect(): { width: number; height: number };
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
  getAttribute(name: string): string | null;
}

/** Playwright's Locator.evaluate, which the bench's minimal typing of playwright-core leaves out. */
interface EvaluatingLocator extends Locator {
  evaluate<R, A>(fn: (element: PageElement, arg: A) => R, arg: A): Promise<R>;
}

/** The document of the newest visible webview (the results panel a test just opened). */
export function resultsFrame(): FrameLocator {
  const outer = page().frameLocator('iframe.webview.ready:visible') as FrameLocator & { last(): FrameLocator };
  return outer.last().frameLocator('iframe#active-frame');
}

export function inResults(selector: string, options?: { hasText?: string | RegExp }): Locator {
  return resultsFrame().locator(selector, options);
}

/** Runs `fn` on the first element matching `selector` in the results webview. */
export function evaluateIn<R, A = undefined>(selector: string, fn: (element: PageElement, arg: A) => R, arg?: A): Promise<R> {
  return (inResults(selector).first() as EvaluatingLocator).evaluate(fn, arg as A);
}

/** Polls `read` until `accept` says yes; fails with what it waited for and the last value. */
export async function waitForValue<T>(what: string, read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read().catch(() => undefined as T);
    if (last !== undefined && accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`waited ${timeoutMs / 1000} s for ${what}; last value: ${JSON.stringify(last)}`);
}

/** Right-click a workspace file → "Run on Current File"/"Stream on Current File" → pick the plugin. */
export async function runFromExplorer(file: string, entry: 'Run on Current File' | 'Stream on Current File', plugin: string): Promise<void> {
  await explorerContextMenu(file, entry);
  // The helper's click can leave the menu open with our entry highlighted; Enter chooses it as a user would
  // (only while the menu is up: once the plugin pick is open, Enter would choose its first plugin).
  const pick = page().locator('.quick-input-widget .quick-input-list');
  const deadline = Date.now() + 10_000;
  while (!(await pick.isVisible()) && Date.now() < deadline) {
    if (await page().locator('.monaco-menu').first().isVisible()) await page().keyboard.press('Enter');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await pickQuickItem(plugin);
}

/** Remembers where the media element last seeked to (it plays on, so currentTime moves while a test reads it). */
export async function watchSeeks(): Promise<void> {
  await evaluateIn('.source-media', (media) => {
    const element = media as unknown as { addEventListener(t: string, l: () => void): void; currentTime: number; dataset: Record<string, string> };
    element.addEventListener('seeked', () => { element.dataset.seekedTo = String(element.currentTime); });
  });
}

/** Where the media last seeked to, once it has. */
export function seekedTo(what: string, accept: (seconds: number) => boolean): Promise<number> {
  return waitForValue(what, async () => Number(await inResults('.source-media').getAttribute('data-seeked-to')), (t) => !Number.isNaN(t) && accept(t));
}

/** Waits until the results webview says the run is over and everything it received is on screen. */
export async function waitForRendered(expectedItems?: number): Promise<void> {
  const body = inResults('body');
  await waitForValue('the results panel to finish and render every item', async () => {
    const [state, count, rendered] = await Promise.all([body.getAttribute('data-state'), body.getAttribute('data-count'), body.getAttribute('data-rendered')]);
    return { state, count, rendered };
  }, ({ state, count, rendered }) => state !== 'running' && count === rendered && (expectedItems === undefined || Number(count) === expectedItems), 90_000);
}
