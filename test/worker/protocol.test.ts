// The bundled worker's real answers against the protocol's contract (schemas/protocol): the ready line,
// /health, /stats, /progress idle and busy, and _job_error from /execute, /initialize and a stream.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertMatchesSchema } from '../helpers/protocol';
import { waitFor } from '../helpers/waitFor';
import { ndjson, startWorker, type RunningWorker } from './workerHarness';

/** Waits (generously: the machine may be loaded) for `probe` to return a value; fails saying `what`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  return (await waitFor(probe, { what, timeoutMs: 30_000, everyMs: 10, until: (value) => value !== undefined })) as T;
}

describe('the bundled worker answers as schemas/protocol says', () => {
  let cooperative: RunningWorker;
  let raises: RunningWorker;
  let lifecycle: RunningWorker;
  before(async () => {
    [cooperative, raises, lifecycle] = await Promise.all([
      startWorker({ module: 'faulty_plugin', cls: 'CooperativePlugin', args: ['--name', 'coop'] }),
      startWorker({ module: 'faulty_plugin', cls: 'RaisesPlugin', args: ['--name', 'raises'] }),
      startWorker({ module: 'lifecycle_plugin', cls: 'LifecyclePlugin' }),
    ]);
  });
  after(() => Promise.all([cooperative, raises, lifecycle].map((worker) => worker?.stop())));

  test('the ready line', () => {
    for (const worker of [cooperative, raises, lifecycle]) assertMatchesSchema('ready-line', worker.ready);
  });

  test('/health and /stats, idle', async () => {
    assertMatchesSchema('health', (await cooperative.call('GET', '/health')).json);
    assertMatchesSchema('stats', (await cooperative.call('GET', '/stats')).json);
  });

  test('/progress idle and during a call, /health and /stats during a call, then the cancelled _job_error', async () => {
    assertMatchesSchema('progress', (await cooperative.call('GET', '/progress')).json);
    const running = cooperative.call('POST', '/execute', { args: [], kwargs: { steps: 100_000, step_s: 0.001 } }, { 'x-rpp-call-id': 'schema-call' });
    const progress = await until('a running call with progress', async () => {
      const answer = (await cooperative.call('GET', '/progress')).json as { busy: boolean; progress: number | null };
      return answer.busy && answer.progress !== null ? answer : undefined;
    });
    assertMatchesSchema('progress', progress);
    assertMatchesSchema('health', (await cooperative.call('GET', '/health')).json);
    const busyStats = (await cooperative.call('GET', '/stats')).json as { busy: boolean };
    assertMatchesSchema('stats', busyStats);
    assert.equal(busyStats.busy, true);
    // CooperativePlugin returns normally when cancelled; the worker answers that as a Cancelled _job_error.
    await cooperative.call('POST', '/cancel', { call_id: 'schema-call' });
    const reply = await running;
    assert.equal(reply.status, 500);
    assertMatchesSchema('job-error', reply.json);
    assert.equal((reply.json as { _job_error: { type: string } })._job_error.type, 'Cancelled');
  });

  test('_job_error from /execute, /initialize and the end of a stream', async () => {
    const execute = await raises.call('POST', '/execute', { args: [1], kwargs: {} });
    assert.equal(execute.status, 500);
    assertMatchesSchema('job-error', execute.json);
    const initialize = await lifecycle.call('POST', '/initialize', { reject: 'no' });
    assert.equal(initialize.status, 500);
    assertMatchesSchema('job-error', initialize.json);
    const stream = await raises.call('POST', '/execute_stream', { args: [], kwargs: {} });
    const lines = ndjson(stream.text);
    assert.deepEqual(lines.slice(0, 2), [{ i: 0 }, { i: 1 }]);
    assertMatchesSchema('job-error', lines[2]);
    assert.equal(lines.length, 3);
  });
});
