// `npm test` runs its stages through this: each argument is an npm script, run in order with its output
// as it comes; the first failure stops the run. At the end (also after a failure or Ctrl-C) it prints how
// long each stage took, so a slow or failing stage is visible at once, in CI too.
// Plain Node with node: built-ins only: the first stage may be the one that installs the dependencies.
// Usage: node scripts/run-stages.mjs SCRIPT...
import { spawn } from 'node:child_process';

const stages = process.argv.slice(2);
const timings = [];
let current;
let interrupted;

/** npm itself: the one running this script (`npm test`), else the npm on PATH. */
function npmRun(script) {
  const viaNpm = process.env.npm_execpath;
  const [command, args] = viaNpm && /\.[cm]?js$/.test(viaNpm) ? [process.execPath, [viaNpm]] : ['npm', []];
  return spawn(command, [...args, 'run', script], { stdio: 'inherit' });
}

function runStage(script) {
  return new Promise((resolve) => {
    console.log(`\n▶ npm run ${script}`);
    current = npmRun(script);
    current.once('error', (error) => {
      console.error(`could not start npm: ${error.message}`);
      resolve(1);
    });
    current.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

function printTimings(outcome) {
  const width = Math.max(...timings.map((t) => t.stage.length), 5);
  console.log(`\n${outcome}; stage timings:`);
  for (const { stage, seconds, code } of timings) {
    console.log(`  ${stage.padEnd(width)} ${seconds.toFixed(1).padStart(7)} s  ${code === 0 ? 'ok' : `failed (exit ${code})`}`);
  }
  const total = timings.reduce((sum, t) => sum + t.seconds, 0);
  console.log(`  ${'total'.padEnd(width)} ${total.toFixed(1).padStart(7)} s`);
}

// Ctrl-C reaches every process of the terminal's group, the stage included: wait for it to stop.
// A SIGTERM sent to this process alone is passed on to the running stage.
process.on('SIGINT', () => { interrupted = 'SIGINT'; });
process.on('SIGTERM', () => {
  interrupted = 'SIGTERM';
  current?.kill('SIGTERM');
});

let failed = 0;
for (const stage of stages) {
  const started = performance.now();
  const code = await runStage(stage);
  timings.push({ stage, seconds: (performance.now() - started) / 1000, code });
  if (code !== 0 || interrupted) {
    failed = code || 130;
    break;
  }
}
const skipped = stages.slice(timings.length);
printTimings(interrupted ? `interrupted (${interrupted})` : failed ? `failed at "${timings.at(-1).stage}"` : 'all stages passed');
if (skipped.length > 0) console.log(`  not run: ${skipped.join(', ')}`);
process.exitCode = failed;
