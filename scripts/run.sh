#!/usr/bin/env bash
# The main job: installs what is missing, starts the real servers (reusing running ones), builds,
# and runs the bridge with all roles. Migrations and schema registration happen at the bridge's
# start. With no META_GRAPH_URL configured it runs the sandbox: a sandbox tenant and the local
# fakes of Meta and Genesys.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
eval "$(bash scripts/ensure-deps.sh)" # Node 24 first on PATH
bash scripts/services.sh up
eval "$(bash scripts/services.sh env)"
echo "[run] building" >&2
npm run --silent build
if [[ -z "${META_GRAPH_URL:-}" ]]; then
  exec node dist/src/sandbox.js
fi
exec node dist/src/main.js
