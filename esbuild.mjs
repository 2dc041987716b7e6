// Bundles the extension (CommonJS, `vscode` external), the `rpp` CLI and the results webview (a browser
// script with uPlot and its stylesheet: dist/webview/results.js and results.css) into dist/.
// `node esbuild.mjs` builds for development (source maps); `--production` minifies for the .vsix;
// `--only=cli` (or `--only=extension`, `--only=webview`) builds one of them.
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);

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
  { ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
  { ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js',
    banner: { js: '#!/usr/bin/env node\n' + common.banner.js } },
  { entryPoints: { results: 'src/webview/main.ts' }, outdir: 'dist/webview', bundle: true, platform: 'browser',
    format: 'iife', target: 'chrome114', sourcemap: production ? false : 'linked', minify: production, logLevel: 'info' },
].filter((build) => !only || (build.outfile ?? build.outdir) === `dist/${only}.js` || build.outdir === `dist/${only}`);

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
