// Bundles the extension (CommonJS, `vscode` external) and the `rpp` CLI into dist/.
// `node esbuild.mjs` builds for development (source maps); `--production` minifies for the .vsix;
// `--only=cli` (or `--only=extension`) builds one of the two; `--outdir=DIR` writes into DIR instead of
// dist/ (the bench measures production bundles without touching dist/).
import * as esbuild from 'esbuild';

const option = (name) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const only = option('only');
const outdir = option('outdir') ?? 'dist';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'info',
  // execa/get-port are ESM; bundling them into CJS needs import.meta.url to exist.
  define: { 'import.meta.url': 'importMetaUrl' },
  banner: { js: "const importMetaUrl = require('url').pathToFileURL(__filename).href;" },
};

const builds = [
  { ...common, entryPoints: ['src/extension/extension.ts'], outfile: `${outdir}/extension.js`, external: ['vscode'] },
  { ...common, entryPoints: ['src/cli.ts'], outfile: `${outdir}/cli.js`,
    banner: { js: '#!/usr/bin/env node\n' + common.banner.js } },
].filter((build) => !only || build.outfile === `${outdir}/${only}.js`);

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
