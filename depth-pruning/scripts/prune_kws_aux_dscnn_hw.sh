#!/usr/bin/env bash
# "Hardware" KWS sweep: LFBE features and the flat-input ds_cnn_flat base (the original called the missing
# prune_kws_dscnn_aux.py; fixed). BASE_MODEL must be a ds_cnn_flat trained on --feature_type lfbe.
set -euo pipefail
EXTRA="--feature_type lfbe ${EXTRA:-}" TASK=${TASK:-kws_hw} exec "$(dirname "$0")/prune_kws_aux_dscnn.sh"
