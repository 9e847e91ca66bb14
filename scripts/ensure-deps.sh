#!/usr/bin/env bash
# Installs the npm packages when node_modules is missing or older than package-lock.json
# (npm ci is exact and reproducible; skipping it when nothing changed keeps a second run fast).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
stamp=node_modules/.package-lock.json
if [[ ! -f "$stamp" || package-lock.json -nt "$stamp" ]]; then
  echo "[setup] npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
