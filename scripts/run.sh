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
# The servers' addresses, except those the caller exported already (their own database, say).
mine="$(bash scripts/services.sh env | sed -E 's/^export ([A-Z_0-9]+)=.*/\1/' | while read -r v; do
  if [[ -n "${!v:-}" ]]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
done)"
eval "$(bash scripts/services.sh env)"
eval "$mine"
bash scripts/build.sh
if [[ -z "${META_GRAPH_URL:-}" ]]; then
  exec node dist/src/sandbox.js
fi
exec node dist/src/main.js
