#!/usr/bin/env bash
# The one test command (`npm test`): installs the system tools the tests need when they are
# missing, type-checks everything, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npx tsc -p tsconfig.test.json
npx tsc -p tsconfig.json
# drachtio-server for test/live/drachtio.test.ts: built once per machine into a cache outside the
# repo (about 13 minutes the first time, nothing after), before the tests so the build does not
# compete with them. Without its source the suite still runs, and that test fails saying why.
bash scripts/build-drachtio.sh >/dev/null || echo "test: drachtio-server could not be built; test/live/drachtio.test.ts will fail" >&2
npx vitest run "$@"
