// What a failure tells the user and which actions it offers, by kind: the table every surface (the
// notification, the results panel's error row) takes its buttons from.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PluginError, fromJobError, type PluginErrorKind } from '../../src/core/errors';
import { adviseOn, couldNotReadInput, type FailureAction } from '../../src/core/failureAdvice';

const job = (type: string, message: string) => fromJobError({ category: 'user_input', type, message, retriable: false, original_exc_repr: `${type}('${message}')`, traceback: 'Traceback…' }, 'ocr');

describe('adviseOn', () => {
  const cases: Array<[string, PluginError, FailureAction[]]> = [
    ['a broken manifest', new PluginError('manifest', '/p/x.json: "class" is missing.', { plugin: 'x' }), ['openManifest']],
    ['a manifest whose python_path is wrong', new PluginError('manifest', '/p/x.json: "python_path": /no/python does not exist.', { plugin: 'x' }), ['setInterpreter', 'openManifest']],
    ['a start that cannot import the module', new PluginError('start', 'Plugin "x" did not start: it exited with code 1 before it was ready. Output: ModuleNotFoundError: No module named \'torch\'.', { plugin: 'x' }), ['setInterpreter', 'showLogs', 'openManifest']],
    ['a start-up time-out', new PluginError('start', 'Plugin "x" did not start: it did not report ready within 60 s.', { plugin: 'x' }), ['showLogs', 'openManifest']],
    ['a rejected configuration', new PluginError('config', 'x rejected its configuration: ValueError: psm must be 0..13', { plugin: 'x' }), ['configure', 'showLogs']],
    ['a crash', new PluginError('crash', 'Plugin "x" crashed: its worker exited with code 7.', { plugin: 'x' }), ['showLogs']],
    ['a crash loop', new PluginError('crash-loop', 'Plugin "x" crashed more than 4 times in 3 min', { plugin: 'x' }), ['restart', 'showLogs']],
    ['an unresponsive worker', new PluginError('unresponsive', 'Plugin "x" did not answer /stats', { plugin: 'x' }), ['restart', 'showLogs']],
    ['a plugin error', job('KeyError', "'model'"), ['showLogs']],
    ['an untrusted workspace', new PluginError('untrusted', 'Restricted Mode'), ['manageTrust']],
    ['a usage error', new PluginError('usage', 'No plugin named "y".'), []],
  ];
  for (const [what, error, actions] of cases) {
    test(`${what} → ${actions.join(', ') || 'no action'}`, () => {
      assert.deepEqual(adviseOn(error, { plugin: 'x', input: '/w/in.txt' }).actions, actions);
    });
  }

  test('every kind has an answer (a new kind must be added to the table)', () => {
    const kinds: PluginErrorKind[] = ['manifest', 'start', 'crash', 'crash-loop', 'plugin', 'config', 'cancelled', 'unresponsive', 'protocol', 'untrusted', 'usage'];
    for (const kind of kinds) assert.ok(Array.isArray(adviseOn(new PluginError(kind, 'm')).actions), kind);
  });

  test('a file the plugin could not read: a hint about the input, and Reveal Input', () => {
    const advice = adviseOn(job('UnicodeDecodeError', "'utf-8' codec can't decode byte 0x89"), { input: '/w/photo.png', fileTypes: ['.txt'] });
    assert.deepEqual(advice.actions, ['revealInput', 'showLogs']);
    assert.equal(
      advice.message,
      "ocr on photo.png: UnicodeDecodeError: 'utf-8' codec can't decode byte 0x89. Check the input: photo.png may be damaged, empty or not the kind of file ocr reads (it takes .txt files).",
    );
    assert.equal(couldNotReadInput(job('OSError', 'cannot identify image file')), true);
    assert.equal(couldNotReadInput(job('KeyError', 'model')), false);
  });

  test('every message names the plugin and the input', () => {
    assert.equal(adviseOn(job('TesseractError', 'failed'), { input: '/w/text.png' }).message, 'ocr on text.png: TesseractError: failed');
    assert.equal(
      adviseOn(new PluginError('crash', 'Plugin "x" crashed: its worker exited with code 7.', { plugin: 'x' }), { input: '/w/crash.txt' }).message,
      'Plugin "x" crashed: its worker exited with code 7. (on crash.txt)',
    );
    assert.equal(adviseOn(new PluginError('protocol', 'Unexpected failure: boom'), { plugin: 'y' }).message, 'y: Unexpected failure: boom');
    assert.equal(adviseOn(new PluginError('plugin', 'x failed on a.wav', { plugin: 'x' }), { input: '/w/a.wav' }).message, 'x failed on a.wav');
  });
});
