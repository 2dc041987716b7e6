// Broken manifests in the Problems panel: one diagnostic per problem, at the exact line and column
// (a JSON syntax error where it is, a bad field at its value, a missing field at the opening brace),
// kept in step with the registry. Open Manifest on a broken plugin goes to its first problem.
import fs from 'node:fs/promises';
import * as vscode from 'vscode';
import { problemRanges, type TextRange } from '../core/manifestPositions';
import type { PluginInfo } from '../core/pluginInfo';
import type { PluginRegistry } from '../core/registry';

export const DIAGNOSTIC_SOURCE = 'Remote Plugins';

export class ManifestProblems implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('remotePluginProxy.manifests');
  private updating: Promise<void> = Promise.resolve();

  constructor(private readonly registry: PluginRegistry) {}

  /** Re-reads the broken manifests and replaces every diagnostic; calls are serialised. */
  update(): Promise<void> {
    this.updating = this.updating.then(() => this.updateNow());
    return this.updating;
  }

  /** Where the first problem of a broken plugin's manifest is, to open it there. */
  async firstProblem(plugin: PluginInfo): Promise<vscode.Range | undefined> {
    if (!plugin.problems || plugin.problems.length === 0) return undefined;
    const text = await readManifestText(plugin.manifestPath);
    if (text === undefined) return undefined;
    const [range] = problemRanges(text, plugin.problems.slice(0, 1));
    return range ? toRange(range) : undefined;
  }

  dispose(): void {
    this.collection.dispose();
  }

  private async updateNow(): Promise<void> {
    const broken = this.registry.list().filter((plugin) => plugin.state === 'broken' && plugin.problems && plugin.problems.length > 0);
    const entries = await Promise.all(broken.map(async (plugin): Promise<[vscode.Uri, vscode.Diagnostic[]]> => {
      const text = (await readManifestText(plugin.manifestPath)) ?? '';
      const problems = plugin.problems ?? [];
      const ranges = problemRanges(text, problems);
      const diagnostics = problems.map((problem, index) => {
        const diagnostic = new vscode.Diagnostic(toRange(ranges[index]!), problem.reason, vscode.DiagnosticSeverity.Error);
        diagnostic.source = DIAGNOSTIC_SOURCE;
        if (problem.field !== undefined) diagnostic.code = problem.field;
        return diagnostic;
      });
      return [vscode.Uri.file(plugin.manifestPath), diagnostics];
    }));
    this.collection.clear();
    for (const [uri, diagnostics] of entries) this.collection.set(uri, diagnostics);
  }
}

/** The text as the editor shows it (without a byte order mark), which is what positions count in. */
async function readManifestText(file: string): Promise<string | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  return text?.replace(/^\uFEFF/, '');
}

function toRange(range: TextRange): vscode.Range {
  return new vscode.Range(range.start.line - 1, range.start.column - 1, range.end.line - 1, range.end.column - 1);
}
