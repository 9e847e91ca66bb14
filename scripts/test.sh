#!/usr/bin/env bash
# The whole test suite: installs what is missing, starts the real servers (reusing running ones),
# builds, lints, type-checks and runs every test against the real Kafka, schema registry,
# PostgreSQL, Redis and S3. The last line is "N passed, N failed"; the exit code is non-zero on
# any failure.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
deps="$(bash scripts/ensure-deps.sh)" || { echo "0 passed, 1 failed"; exit 1; }
eval "$deps" # Node 24 first on PATH
bash scripts/services.sh up || { echo "0 passed, 1 failed"; exit 1; }
eval "$(bash scripts/services.sh env)"
# The suite's own database and Redis database: the sandbox's (gwb, 0) stay as the sandbox left them.
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/gwb_test REDIS_URL=redis://127.0.0.1:6379/1

checks_failed=0
check() {
  local name="$1"
  shift
  echo "[test] $name" >&2
  if ! "$@"; then
    echo "[test] $name FAILED" >&2
    checks_failed=$((checks_failed + 1))
  fi
}
check build bash scripts/build.sh --force
check lint npm run --silent lint
check typecheck npm run --silent typecheck

mkdir -p .tap
npx tap --reporter=tap "$@" | tee .tap/last-run.tap | node scripts/tap-summary.mjs --extra-failed "$checks_failed"
exit "${PIPESTATUS[2]}"
