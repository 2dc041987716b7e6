// A host program for the supervision tests: the real PluginRegistry, brought into one situation of
// situations.ts (optionally with an unsaved-buffer input, a private temp file), then it prints one JSON
// line and waits to be SIGKILLed (at most 120 s, so a test that dies itself cannot leave it behind).
// Usage: node --import tsx supervisionHost.ts <plugin folder> <situation name> [--unsaved-input]
// (supervision.test.ts runs it bundled, out/reliability/supervisionHost.mjs, which starts faster.)
import { PluginRegistry } from '../../src/core/registry';
import { reachSituation, SITUATIONS } from './situations';

const HOST_LIFETIME_MS = 120_000;

async function main(folder: string, name: string, unsavedInput: boolean): Promise<void> {
  const situation = SITUATIONS.find((s) => s.name === name);
  if (!situation) throw new Error(`no situation named ${name}`);
  const registry = await PluginRegistry.create({ pluginDirs: [folder], includeDefaultDir: false, watch: false });
  if (unsavedInput) {
    // A call whose input is an unsaved editor's content: its temp folder exists while the call runs.
    void registry.execute(name, { file: { content: 'unsaved text', name: 'unsaved.txt' }, kwargs: situation.kwargs }).catch(() => undefined);
  }
  await reachSituation(registry, situation);
  process.stdout.write(`${JSON.stringify({ host: process.pid, worker: registry.get(name)?.pid ?? null })}\n`);
  setTimeout(() => process.exit(2), HOST_LIFETIME_MS);
}

main(process.argv[2], process.argv[3], process.argv.includes('--unsaved-input')).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
