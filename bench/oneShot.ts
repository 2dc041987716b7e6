// What a user of `rpp` feels: a one-shot `rpp run` (start the worker, one call, stop it, exit) and
// `rpp --help`, each against the least this machine needs for the same job, measured in the same loop:
// Node's own start (`node -e 0`) and, for the run, Python's start with the modules an HTTP worker needs
// (`python -c "import json, http.server"`), run back to back. The CLI is the production bundle, installed.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Section, median, now } from './figures';
import { packagedCopy } from './packaged';

const run = promisify(execFile);
const here = import.meta.dirname;
const node = process.execPath;

const RUN = 'one-shot rpp run: spawn, call, stop (median ms)';
const HELP = 'rpp --help (median ms)';

async function timed(work: () => Promise<unknown>): Promise<number> {
  const t = now();
  await work();
  return now() - t;
}

export const oneShotCli: Section = {
  title: 'one-shot CLI',
  figures: () => [RUN, HELP],
  async run(bench) {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'rpp-bench-cli-'));
    try {
      const cli = path.join(packagedCopy(path.join(folder, 'extension')), 'dist', 'cli.js');
      const plugins = path.join(folder, 'plugins');
      const home = path.join(folder, 'home'); // an empty ~/.cjm/plugins: only the bench's plugin is listed
      await mkdir(plugins);
      await mkdir(home);
      await copyFile(path.join(here, 'bench_plugin.py'), path.join(plugins, 'bench_plugin.py'));
      await writeFile(path.join(plugins, 'bench.json'), JSON.stringify({ name: 'bench', version: '1.0.0', python_path: bench.python, module: 'bench_plugin', class: 'BenchPlugin' }));
      const input = path.join(folder, 'input.txt');
      await writeFile(input, 'input\n');
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
      delete env.RPP_PLUGIN_DIRS;

      const oneShot = async () => {
        const { stdout } = await run(node, [cli, 'run', 'bench', input, '--plugins-dir', plugins, '--json'], { env });
        if (stdout.trim() !== '{"ok":true}') throw new Error(`rpp run printed ${JSON.stringify(stdout)}, not {"ok":true}`);
      };
      const help = () => run(node, [cli, '--help'], { env });
      const nodeFloor = () => run(node, ['-e', '0'], { env });
      const pythonFloor = () => run(bench.python, ['-c', 'import json, http.server'], { env });

      // One untimed round fills the page cache; then each round measures all four, interleaved.
      await oneShot();
      await help();
      const ours: number[] = [];
      const floor: number[] = [];
      const helpMs: number[] = [];
      const nodeMs: number[] = [];
      for (let i = 0; i < (bench.quick ? 5 : 15); i++) {
        floor.push(await timed(async () => { await nodeFloor(); await pythonFloor(); }));
        ours.push(await timed(oneShot));
        nodeMs.push(await timed(nodeFloor));
        helpMs.push(await timed(help));
      }
      bench.record(RUN, median(ours), 'ms', 'node -e 0, then python -c "import json, http.server"', median(floor));
      bench.note(`target: at most 1.3 × the floor = ${Math.round(1.3 * median(floor))} ms`);
      bench.record(HELP, median(helpMs), 'ms', 'node -e 0', median(nodeMs));
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  },
};
