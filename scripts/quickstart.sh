#!/usr/bin/env bash
# Sets up a machine, builds dsarl, and runs the quickstart job: environments, SFT warm start,
# held-out evaluation, GRPO with a rollout worker, and the evaluation again (docs/training.md).
# Running it again resumes; delete runs/quickstart to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
DSARL="${DSARL_BUILD_DIR:-build}/cli/dsarl"
"$DSARL" doctor
exec "$DSARL" run --config configs/quickstart.textproto "$@"
