#!/usr/bin/env bash
# The "depth-dense" KWS baseline (dense head, frozen tail). Same env as prune_kws_aux_dscnn.sh.
set -euo pipefail
AUX_ARCH=dense TAILS=${TAILS:-True} exec "$(dirname "$0")/prune_kws_aux_dscnn.sh"
