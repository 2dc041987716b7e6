// playwright-core lives in the bench (.vscode-bench/tools/node_modules), not in the project's dependencies,
// so it is loaded from there at run time. The interfaces below declare only the part of its API the bench
// uses, so that tsc checks our code without the package installed. If playwright-core becomes a project
// devDependency, replace this file with `export { chromium, type Page, ... } from 'playwright-core'`.
import { createRequire } from 'node:module';
import path from 'node:path';
import { bench } from './bench';

interface Timeout { timeout?: number }

export interface Locator {
  first(): Locator;
  last(): Locator;
  nth(index: number): Locator;
  filter(options: { hasText?: string | RegExp }): Locator;
  locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
  waitFor(options?: Timeout & { state?: 'attached' | 'detached' | 'visible' | 'hidden' }): Promise<void>;
  /** position: where in the element to click, from its top-left corner (default: its centre). */
  click(options?: Timeout & { button?: 'left' | 'right'; position?: { x: number; y: number } }): Promise<void>;
  dblclick(options?: Timeout): Promise<void>;
  hover(options?: Timeout): Promise<void>;
  fill(value: string, options?: Timeout): Promise<void>;
  count(): Promise<number>;
  isVisible(): Promise<boolean>;
  innerText(options?: Timeout): Promise<string>;
  allInnerTexts(): Promise<string[]>;
  getAttribute(name: string, options?: Timeout): Promise<string | null>;
}

export interface FrameLocator {
  frameLocator(selector: string): FrameLocator;
  locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
}

export interface Page {
  goto(url: string, options?: Timeout): Promise<unknown>;
  locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
  frameLocator(selector: string): FrameLocator;
  keyboard: { press(key: string): Promise<void>; type(text: string): Promise<void> };
  waitForFunction<A>(fn: (arg: A) => unknown, arg: A, options?: Timeout & { polling?: number }): Promise<unknown>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<Buffer>;
  exposeFunction(name: string, fn: (...args: never[]) => unknown): Promise<void>;
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): Page;
  on(event: 'pageerror', listener: (error: Error) => void): Page;
  setDefaultTimeout(ms: number): void;
}

export interface BrowserContext {
  pages(): Page[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

interface Chromium {
  launchPersistentContext(userDataDir: string, options: {
    executablePath: string; headless: boolean; args: string[];
    viewport?: { width: number; height: number };
  }): Promise<BrowserContext>;
}

function loadChromium(): Chromium {
  const requireFromBench = createRequire(path.join(bench.toolsModules, 'noop.js'));
  try {
    return (requireFromBench('playwright-core') as { chromium: Chromium }).chromium;
  } catch (error) {
    throw new Error(`playwright-core is not installed in the bench; run scripts/vscode-bench/setup.sh (${String(error)})`);
  }
}

/** Debian's chromium with the flags that work headless on these machines, on a fresh profile. */
export async function launchChromium(profileDir: string): Promise<BrowserContext> {
  return loadChromium().launchPersistentContext(profileDir, {
    executablePath: bench.chromium,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
