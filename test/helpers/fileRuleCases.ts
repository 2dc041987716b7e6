// The cases of the one rule for which plugin takes which file (src/core/fileRule.ts), written once and
// checked in every place that decides: the core (test/core/fileRule.test.ts), `rpp run`
// (test/core/cli.test.ts), the palette and the tree's Run on File… in a real extension host
// (test/vscode/fileRule.test.ts) and the explorer's menu in a real window (test/ui/fileRule.ui.test.ts).
// No imports: the extension-host tests bundle this file.

/** Plugins as a manifest writes their file_types (not normalised: ".MP3" and "wav" must work too). */
export const RULE_PLUGINS: ReadonlyArray<{ name: string; file_types?: string[] }> = [
  { name: 'rule-any' }, // no file_types: any file, no folder
  { name: 'rule-audio', file_types: ['wav', '.MP3'] },
  { name: 'rule-archive', file_types: ['.tar.gz'] },
  { name: 'rule-folders', file_types: ['folder'] },
  { name: 'rule-text-folders', file_types: ['*.txt', 'folder'] },
];

export interface RuleCase {
  /** A path relative to the test's folder; a trailing "/" makes it a folder. */
  input: string;
  /** The plugins that take it, in RULE_PLUGINS order. */
  takers: string[];
  /**
   * The explorer's menu decides with VS Code's when-clauses, which see only the last extension
   * (resourceExtname): for a multi-part extension it shows "Run Plugin on File…" on every ".gz", and the
   * picker then says which plugins take what. True where the menu is shown although no plugin takes it.
   */
  menuCoarse?: boolean;
}

export const RULE_CASES: readonly RuleCase[] = [
  { input: 'song.wav', takers: ['rule-any', 'rule-audio'] },
  { input: 'LOUD.MP3', takers: ['rule-any', 'rule-audio'] },
  { input: 'backup.tar.gz', takers: ['rule-any', 'rule-archive'] },
  { input: 'notes.txt', takers: ['rule-any', 'rule-text-folders'] },
  { input: 'README', takers: ['rule-any'] },
  { input: 'in.wav/readme.md', takers: ['rule-any'] }, // only the file's own name counts, not its folder's
  { input: 'photos/', takers: ['rule-folders', 'rule-text-folders'] },
];

/** The same plugins without the one that takes any file: now some inputs are taken by nobody. */
export const RULE_CASES_WITHOUT_ANY: readonly RuleCase[] = [
  { input: 'song.wav', takers: ['rule-audio'] },
  { input: 'notes.txt', takers: ['rule-text-folders'] },
  { input: 'picture.png', takers: [] },
  { input: 'README', takers: [] },
  { input: 'data.gz', takers: [], menuCoarse: true },
  { input: 'photos/', takers: ['rule-folders', 'rule-text-folders'] },
];

export function isFolderInput(input: string): boolean {
  return input.endsWith('/');
}
