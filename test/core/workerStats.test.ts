// Every worker's /stats answer becomes the one shape (schemas/protocol/stats.schema.json), and what the
// Plugins view shows of it never says NaN or undefined, whatever the worker sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { normaliseStats, statsRows, statsSummary, type HostFacts } from '../../src/core/workerStats';
import { assertMatchesSchema } from '../helpers/protocol';

const host: HostFacts = { pid: 4242, uptimeS: 12.5, calls: 7, errors: 2, busy: false };

function shown(stats: ReturnType<typeof normaliseStats>): string {
  return [...statsSummary(stats), ...statsRows(stats).flat()].join(' | ');
}

test("the bundled worker's answer is kept as it is", () => {
  const answer = {
    pid: 4242,
    rss_bytes: 50_000_000,
    rss_children_bytes: 1_000_000,
    cpu_percent: 3.5,
    threads: 4,
    children: 1,
    uptime_s: 99.5,
    calls: 3,
    errors: 0,
    busy: true,
    python: '3.11.2',
    platform: 'linux',
  };
  assertMatchesSchema('stats', answer);
  assert.deepEqual(normaliseStats(answer, host), answer);
});

test("cjm's early answer: memory in bytes, the host's uptime, counts and busy, the rest null", () => {
  const stats = normaliseStats({ pid: 4242, cpu_percent: 0.0, memory_rss_mb: 47.5 }, { ...host, busy: true });
  assertMatchesSchema('stats', stats);
  assert.deepEqual(stats, {
    pid: 4242,
    rss_bytes: 49_807_360,
    rss_children_bytes: null,
    cpu_percent: 0,
    threads: null,
    children: null,
    uptime_s: 12.5,
    calls: 7,
    errors: 2,
    busy: true,
  });
  assert.deepEqual(statsRows(stats), [
    ['Memory', '48 MB'],
    ['CPU', '0.0%'],
    ['Uptime', '13 s'],
    ['Calls', '7'],
    ['Errors', '2'],
    ['PID', '4242'],
  ]);
});

test("cjm's current answer: children from subtree_pids, usage passed on", () => {
  const stats = normaliseStats({ pid: 4242, cpu_percent: 1, memory_rss_mb: 100, subtree_pids: [4242, 4243, 4244], usage: { tokens: 42 } }, host);
  assertMatchesSchema('stats', stats);
  assert.equal(stats.children, 2);
  assert.deepEqual(stats.usage, { tokens: 42 });
  assert.deepEqual(statsRows(stats)[0], ['Memory', '100 MB (2 child processes)']);
  assert.deepEqual(statsRows(stats).at(-1), ['Last call used', '{"tokens":42}']);
  assert.equal('usage' in normaliseStats({ pid: 1, cpu_percent: 0, memory_rss_mb: 1, usage: null }, host), false, 'no usage reported: no key');
});

test('no answer (a busy cjm worker): the host figures, memory not known', () => {
  const stats = normaliseStats(undefined, { ...host, busy: true });
  assertMatchesSchema('stats', stats);
  assert.equal(stats.rss_bytes, null);
  assert.deepEqual(statsSummary(stats), []);
  assert.deepEqual(statsRows(stats)[0], ['Memory', 'not known while the call runs']);
});

test('whatever a worker answers, the shape holds and nothing shows NaN or undefined', () => {
  const figure = fc.oneof(fc.double(), fc.integer(), fc.constant(null), fc.string(), fc.boolean(), fc.constant(undefined));
  const answer = fc.oneof(
    fc.record(
      {
        pid: figure,
        rss_bytes: figure,
        memory_rss_mb: figure,
        cpu_percent: figure,
        threads: figure,
        children: figure,
        uptime_s: figure,
        calls: figure,
        errors: figure,
        busy: figure,
        subtree_pids: fc.oneof(fc.array(fc.integer()), figure),
        usage: fc.jsonValue(),
      },
      { requiredKeys: [] },
    ),
    fc.jsonValue(),
  );
  fc.assert(
    fc.property(answer, (value) => {
      const stats = normaliseStats(value, host);
      assertMatchesSchema('stats', JSON.parse(JSON.stringify(stats)) as unknown);
      assert.doesNotMatch(shown(stats), /NaN|undefined|Infinity/);
    }),
    { numRuns: 500 },
  );
});
