// Loaded with `--import` by every node:test run (package.json): gives each test and hook a deadline
// unless it sets its own `timeout`, so a hung test fails with "test timed out after …" and the run goes on.
// node:test has no default timeout, and its --test-timeout bounds a whole test file on Node 20 (newer
// Node applies it per test): the scripts pass that too, as a larger backstop per file.
// Subtests made with t.test() inherit their parent's timeout.
import { createRequire, syncBuiltinESMExports } from 'node:module';

/** Per test and per hook: generous, for a loaded 2-core machine. RPP_TEST_TIMEOUT_MS overrides it. */
const PER_TEST_MS = Number(process.env.RPP_TEST_TIMEOUT_MS ?? 5 * 60_000);

type Runner = (...args: unknown[]) => unknown;
type Wrapped = 'test' | 'it' | 'before' | 'after' | 'beforeEach' | 'afterEach';

const require = createRequire(import.meta.url);
// The CommonJS face of the built-in: `import { test } from 'node:test'` reads these properties once
// syncBuiltinESMExports() has run.
const nodeTest = require('node:test') as Record<Wrapped, Runner>;

/** The options argument with `timeout` defaulted, put where the runner expects it. */
function withTimeout(args: unknown[], optionsAt: number): unknown[] {
  const options = args[optionsAt];
  if (typeof options === 'function') return [...args.slice(0, optionsAt), { timeout: PER_TEST_MS }, ...args.slice(optionsAt)];
  if (typeof options !== 'object' || options === null) return Object.assign([...args], { [optionsAt]: { timeout: PER_TEST_MS } });
  if ((options as { timeout?: number }).timeout !== undefined) return args;
  return Object.assign([...args], { [optionsAt]: { ...options, timeout: PER_TEST_MS } });
}

/** test([name][, options][, fn]); its .skip/.todo/.only stay as they were. */
function testWithTimeout(original: Runner): Runner {
  const wrapped = (...args: unknown[]) => original(...withTimeout(args, typeof args[0] === 'string' ? 1 : 0));
  return Object.assign(wrapped, original);
}

/** before(fn[, options]) and the other hooks. */
function hookWithTimeout(original: Runner): Runner {
  return (fn: unknown, options?: unknown) => original(...withTimeout([fn, options], 1));
}

nodeTest.test = testWithTimeout(nodeTest.test);
nodeTest.it = testWithTimeout(nodeTest.it);
for (const hook of ['before', 'after', 'beforeEach', 'afterEach'] as const) nodeTest[hook] = hookWithTimeout(nodeTest[hook]);
syncBuiltinESMExports();
