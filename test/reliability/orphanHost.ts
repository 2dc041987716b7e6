// A host program for the orphan test: the real PluginRegistry with three running workers (one idle,
// one busy in a call, one whose plugin started its own child process). It prints one JSON line with
// their pids once all three are in that state, then waits to be killed (at most 120 s, so a test
// that dies itself cannot leave it behind for long).
// Usage: node --import tsx orphanHost.ts <plugin folder with idle.json, busy.json, parent.json>
import { PluginRegistry } from '../../src/core/registry';

const HOST_LIFETIME_MS = 120_000;

async function main(folder: string): Promise<void> {
  const registry = await PluginRegistry.create({ pluginDirs: [folder], includeDefaultDir: false, watch: false });
  await Promise.all(['idle', 'busy', 'parent'].map((name) => registry.start(name)));
  void registry.execute('busy', { kwargs: { token: 'busy', action: 'sleep', seconds: 300 } }).catch(() => undefined);
  const spawned = (await registry.execute('parent', { kwargs: { token: 'parent', action: 'spawn_child' } })) as { child: number };
  await untilBusy(registry, 'busy');
  const pid = (name: string): number | undefined => registry.get(name)?.pid;
  process.stdout.write(`${JSON.stringify({ host: process.pid, idle: pid('idle'), busy: pid('busy'), parent: pid('parent'), child: spawned.child })}\n`);
  setTimeout(() => process.exit(2), HOST_LIFETIME_MS);
}

/** The busy call has reached the plugin (not only been sent). */
async function untilBusy(registry: PluginRegistry, name: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await registry.health(name)).busy === true) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${name} never became busy`);
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
