// Where in a manifest's text each problem is, so that the editor can underline it (the Problems panel)
// and open the manifest there: a JSON syntax error at its line and column, a bad field at its value, a
// missing field at the object's opening brace.
import { positionAt, propertySpans, type PropertySpan } from './jsonSyntax';
import type { ManifestProblem } from './manifest';

/** A range in a text, 1-based lines and columns (in UTF-16 code units), end exclusive. */
export interface TextRange {
  start: { line: number; column: number };
  end: { line: number; column: number };
}

/** The range each problem points at, in the order given; `text` is the manifest as it is on disk now. */
export function problemRanges(text: string, problems: readonly ManifestProblem[]): TextRange[] {
  const spans = problems.some((problem) => problem.at === undefined) ? propertySpans(text) : undefined;
  return problems.map((problem) => rangeOf(text, problem, spans));
}

function rangeOf(text: string, problem: ManifestProblem, spans: Map<string, PropertySpan> | undefined): TextRange {
  if (problem.at) {
    const { line, column } = problem.at;
    return { start: { line, column }, end: { line, column: column + 1 } };
  }
  const span = (problem.field === undefined ? undefined : spans?.get(problem.field)) ?? spans?.get(parentOf(problem.field));
  if (span === undefined) return { start: { line: 1, column: 1 }, end: { line: 1, column: 1 } };
  // A missing field (or a file-level problem) points at the opening brace; a present one at its value.
  const present = problem.field !== undefined && spans?.has(problem.field);
  const start = present ? span.value.start : (span.key?.start ?? span.value.start);
  const end = present ? span.value.end : start + 1;
  return { start: positionAt(text, start), end: positionAt(text, end) };
}

/** "env_vars.HOME" → "env_vars", "file_types[2]" → "file_types", "name" → "" (the root). */
function parentOf(field: string | undefined): string {
  if (field === undefined) return '';
  const cut = Math.max(field.lastIndexOf('.'), field.lastIndexOf('['));
  return cut > 0 ? field.slice(0, cut) : '';
}
