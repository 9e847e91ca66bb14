#!/usr/bin/env bash
# Builds dist/ when a source is newer than the last build (`--force`: always). Skipping a fresh build
# matters beyond speed: tsc rewrites every file of dist/, and a process starting from dist/ meanwhile
# (a second bridge, a test's child process) would load half of one build and half of another.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
stamp=dist/.build-stamp
if [[ "${1:-}" != --force && -f "$stamp" ]] &&
  [[ -z "$(find src bench schemas package.json package-lock.json tsconfig.json tsconfig.build.json -newer "$stamp" -print -quit)" ]]; then
  exit 0
fi
echo "[build] tsc" >&2
npm run --silent build
touch "$stamp"
