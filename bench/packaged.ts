// A copy of the project laid out as it is installed (the .vsix's files: package.json, the production
// bundles in dist/, worker/, media/, schemas/), so that figures measure what users run, not dist/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../test/helpers/python';

/** Builds the production bundles into `folder` beside the files they use at run time; returns `folder`. */
export function packagedCopy(folder: string): string {
  fs.mkdirSync(folder, { recursive: true });
  for (const item of ['package.json', 'worker', 'media', 'schemas']) {
    fs.cpSync(path.join(projectRoot, item), path.join(folder, item), { recursive: true });
  }
  const result = spawnSync(process.execPath, ['esbuild.mjs', '--production', `--outdir=${path.join(folder, 'dist')}`], { cwd: projectRoot, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the production build failed:\n${result.stderr}`);
  return folder;
}
