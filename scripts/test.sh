#!/usr/bin/env bash
# The one test command (`npm test`): installs the system tools the tests need when they are
# missing, type-checks everything, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npx tsc -p tsconfig.test.json
npx tsc -p tsconfig.json
npx vitest run "$@"
