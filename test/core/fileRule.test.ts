// The one rule for which plugin takes which file or folder: the shared table of cases (the same cases
// the CLI, the extension host and the UI tests check), normalisation, the reasons and the "nothing
// takes it" message, and what the explorer's when-clauses get.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  describeAccepted, menuContext, normaliseFileType, nothingTakesMessage, pluginsTaking, refusal, takes, type FileTaker,
} from '../../src/core/fileRule';
import { RULE_CASES, RULE_CASES_WITHOUT_ANY, RULE_PLUGINS, isFolderInput } from '../helpers/fileRuleCases';

const plugins: FileTaker[] = RULE_PLUGINS.map((plugin) => ({ name: plugin.name, fileTypes: plugin.file_types ?? [] }));
const withoutAny = plugins.filter((plugin) => plugin.name !== 'rule-any');
const target = (input: string) => ({ path: `/work/${input.replace(/\/$/, '')}`, isFolder: isFolderInput(input) });

describe('which plugin takes which input (the shared cases)', () => {
  for (const { input, takers } of RULE_CASES) {
    test(`${input} → ${takers.join(', ') || 'nobody'}`, () => {
      assert.deepEqual(pluginsTaking(plugins, [target(input)]).map((plugin) => plugin.name), takers);
    });
  }
  for (const { input, takers } of RULE_CASES_WITHOUT_ANY) {
    test(`without rule-any: ${input} → ${takers.join(', ') || 'nobody'}`, () => {
      assert.deepEqual(pluginsTaking(withoutAny, [target(input)]).map((plugin) => plugin.name), takers);
    });
  }
  test('several inputs: only plugins that take every one of them', () => {
    assert.deepEqual(pluginsTaking(plugins, [target('song.wav'), target('notes.txt')]).map((p) => p.name), ['rule-any']);
    assert.deepEqual(pluginsTaking(plugins, [target('notes.txt'), target('photos/')]).map((p) => p.name), ['rule-text-folders']);
  });
});

describe('reasons', () => {
  test('a refusal says what the plugin takes, what the input is, and which plugins take it', () => {
    const audio = plugins.find((plugin) => plugin.name === 'rule-audio')!;
    assert.equal(
      refusal(audio, plugins, target('notes.txt')),
      'rule-audio does not take notes.txt: it takes .wav .mp3 files, not .txt files. Plugins that take it: rule-any, rule-text-folders.',
    );
    assert.equal(refusal(audio, plugins, target('song.wav')), undefined);
    const folders = plugins.find((plugin) => plugin.name === 'rule-folders')!;
    assert.match(refusal(folders, withoutAny, target('README'))!, /^rule-folders does not take README: it takes folders only, not files\. No loaded plugin takes files without an extension\.$/);
    const any = plugins.find((plugin) => plugin.name === 'rule-any')!;
    assert.match(refusal(any, plugins, target('photos/'))!, /it takes any file, not folders\. Plugins that take it: rule-folders, rule-text-folders\.$/);
  });

  test('when nothing takes the input, the message names its type and what each plugin takes', () => {
    const message = nothingTakesMessage(withoutAny, [target('picture.png')]);
    assert.equal(
      message,
      'No plugin takes .png files (picture.png). rule-audio takes .wav .mp3 files; rule-archive takes .tar.gz files; rule-folders takes folders; ' +
        'rule-text-folders takes .txt files and folders. Choose another input, or add its type to a plugin\'s "file_types".',
    );
    assert.match(nothingTakesMessage(withoutAny, [target('song.wav'), target('notes.txt')]), /^No plugin takes all 2 selected inputs\./);
    assert.match(nothingTakesMessage([], [target('a.wav')]), /no plugin is loaded/);
  });

  test('describeAccepted', () => {
    assert.equal(describeAccepted([]), 'any file');
    assert.equal(describeAccepted(['folder']), 'folders');
    assert.equal(describeAccepted(['.txt', 'folder']), '.txt files and folders');
  });
});

describe('normaliseFileType', () => {
  test('extensions in any spelling, "folder" as the word only', () => {
    assert.equal(normaliseFileType('WAV'), '.wav');
    assert.equal(normaliseFileType(' *.Mp3 '), '.mp3');
    assert.equal(normaliseFileType('.tar.gz'), '.tar.gz');
    assert.equal(normaliseFileType('Folder'), 'folder');
    assert.equal(normaliseFileType('.folder'), '.folder', 'with a dot it is an extension');
    assert.equal(normaliseFileType('*'), undefined);
    assert.equal(normaliseFileType('a b'), undefined);
  });
  test('written spellings still match', () => {
    assert.equal(takes(['MP3'], target('a.mp3')).takes, true);
    assert.equal(takes(['.wav', '.tar.gz'], target('data.TAR.GZ')).takes, true);
    assert.equal(takes(['.wav'], target('song.wav.txt')).takes, false);
  });
});

describe('menuContext (the explorer when-clauses)', () => {
  test('extensions as resourceExtname spells them, any-file and folders flags', () => {
    assert.deepEqual(menuContext(withoutAny), { anyFile: false, extensions: ['.GZ', '.MP3', '.TXT', '.WAV', '.gz', '.mp3', '.txt', '.wav'], folders: true });
    assert.equal(menuContext(plugins).anyFile, true);
    assert.deepEqual(menuContext([{ name: 'x', fileTypes: ['.wav'] }]), { anyFile: false, extensions: ['.WAV', '.wav'], folders: false });
  });
});
