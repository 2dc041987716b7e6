// Bundles the extension (CommonJS, `vscode` external) and the `rpp` CLI into dist/, the libraries they
// load on first use into dist/vendor/, and the results webview (a browser script with uPlot and its
// stylesheet: dist/webview/results.js and results.css; and base.css, the rules every webview shares).
// `node esbuild.mjs` builds for development (source maps); `--production` minifies for the .vsix;
// `--only=cli` (or `--only=extension`, `--only=webview`) builds one of them; `--outdir=DIR` writes into DIR
// instead of dist/ (the bench measures production bundles without touching dist/).
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

/**
 * Libraries that src/core loads on first use (`await import('undici')`), each bundled into a file of its own
 * in dist/vendor/: loading the extension or the CLI neither parses nor runs them; starting a worker does.
 */
const VENDOR = {
  undici: "module.exports = require('undici');",
  execa: "module.exports = require('execa');",
  // `(await import('get-port')).default` must be the function: Node's import of CommonJS takes
  // module.exports as the default export.
  'get-port': "const m = require('get-port'); module.exports = Object.assign(m.default, m);",
};

/** In the entry bundles, an import of a vendored library becomes require('./vendor/<name>.js') at that place. */
const vendorExternal = {
  name: 'vendor-external',
  setup(build) {
    const names = Object.keys(VENDOR).map((name) => name.replace('-', '\\-'));
    build.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, (args) => ({ path: `./vendor/${args.path}.js`, external: true }));
  },
};

// `import()` compiles to require(): the extension host loads CommonJS, and a lazy require is all that is needed.
const entry = { ...common, plugins: [vendorExternal], supported: { 'dynamic-import': false } };

/**
 * One namespace object for the `vscode` API in the whole bundle. esbuild turns each file's
 * `import * as vscode from 'vscode'` into its own copy of the API object (a getter per property, for each
 * of ~15 files), which was most of the time it took to load the extension; re-exported from one module,
 * the copy is made once.
 */
const vscodeOnce = {
  name: 'vscode-once',
  setup(build) {
    build.onResolve({ filter: /^vscode$/ }, (args) =>
      args.namespace === 'vscode-once' ? { path: 'vscode', external: true } : { path: 'vscode', namespace: 'vscode-once' });
    build.onLoad({ filter: /.*/, namespace: 'vscode-once' }, () => ({ contents: "export * from 'vscode';", loader: 'js' }));
  },
};

const builds = [
  { ...entry, entryPoints: ['src/extension/extension.ts'], outfile: `${outdir}/extension.js`, plugins: [vscodeOnce, vendorExternal] },
  { ...entry, entryPoints: ['src/cli.ts'], outfile: `${outdir}/cli.js`,
    banner: { js: '#!/usr/bin/env node\n' + common.banner.js } },
  { entryPoints: { results: 'src/webview/main.ts', base: 'src/webview/base.css' }, outdir: `${outdir}/webview`, bundle: true, platform: 'browser',
    format: 'iife', target: 'chrome114', sourcemap: production ? false : 'linked', minify: production, logLevel: 'info' },
].filter((build) => !only || build.outfile === `${outdir}/${only}.js` || build.outdir === `${outdir}/${only}`);
// Both entries need the vendored files, so they are built whatever --only says.
for (const [name, contents] of Object.entries(VENDOR)) {
  builds.push({ ...common, stdin: { contents, resolveDir: import.meta.dirname, sourcefile: `vendor-${name}.js` }, outfile: `${outdir}/vendor/${name}.js` });
}

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
