// Running an extension-host entry (extensionTestsPath) inside the real VS Code: open the workbench URL in
// chromium with the smoke-test driver's hooks, and wait for the exit code the extension host reports.
// Shared by `npm run test:vscode` and the bench's activation figure.
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, projectRoot } from './bench';
import { launchChromium } from './playwright';

export interface WorkbenchOptions {
  /** The development extensions' folders (default: the project). */
  extensionPaths?: string[];
  /** Extra environment variables for the extension host. */
  environment?: Record<string, string>;
}

/** The workbench URL that opens `folder` with development extensions and runs the bundled `testsEntry` (exports run()). */
export function workbenchUrl(port: number, folder: string, testsEntry: string, options: WorkbenchOptions = {}): string {
  const remote = (p: string) => `vscode-remote://127.0.0.1:${port}${p}`;
  const payload = [
    ...(options.extensionPaths ?? [projectRoot]).map((p) => ['extensionDevelopmentPath', remote(p)]),
    ['extensionTestsPath', remote(testsEntry)],
    ['skipWelcome', 'true'],
  ];
  if (options.environment) payload.push(['extensionEnvironment', JSON.stringify(options.environment)]);
  return `http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

export interface WorkbenchRun {
  url: string;
  /** The extension host's console output is appended here. */
  hostLog: string;
  timeoutMs: number;
  /** Where to save a screenshot of the window once the run ended (none if undefined). */
  screenshot?: string;
}

/** Opens the workbench and resolves with the exit code the extension host reports, or 'timeout'. */
export async function runInWorkbench(run: WorkbenchRun): Promise<number | 'timeout'> {
  const profile = makeTempDir('chromium');
  const context = await launchChromium(profile);
  try {
    const page = context.pages()[0] ?? await context.newPage();
    let reportExit: (code: number) => void = () => {};
    const exited = new Promise<number>((resolve) => { reportExit = resolve; });
    // The workbench calls these when the smoke-test driver is on: the extension host's log lines and its exit code.
    await page.exposeFunction('codeAutomationExit', (code: number) => reportExit(code));
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      fs.appendFileSync(run.hostLog, `[${type}] ${(args ?? []).map(String).join(' ')}\n`);
    });
    await page.goto(run.url);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(resolve, run.timeoutMs, 'timeout'); });
    const code = await Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
    if (run.screenshot) {
      fs.mkdirSync(path.dirname(run.screenshot), { recursive: true });
      await page.screenshot({ path: run.screenshot }).catch(() => undefined);
    }
    return code;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
