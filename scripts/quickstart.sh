#!/usr/bin/env bash
# Sets up a machine, builds dsarl, and runs the main job on it.
# Today that job is: check the machine (doctor) and validate the quickstart config; it grows into
# the full RL quickstart as the model, learner and rollout land.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
DSARL="${DSARL_BUILD_DIR:-build}/cli/dsarl"
"$DSARL" doctor
"$DSARL" config check configs/quickstart.textproto
