#!/usr/bin/env bash
# The "depth-dense" baseline: the VWW sweep with the dense head (frozen tail only). Same env as the aux sweep.
set -euo pipefail
AUX_ARCH=dense TAILS=${TAILS:-True} exec "$(dirname "$0")/prune_vww_mobilenet_aux.sh"
