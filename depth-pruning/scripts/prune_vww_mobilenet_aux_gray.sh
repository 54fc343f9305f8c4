#!/usr/bin/env bash
# Grayscale VWW sweep (Pico4ML camera): BASE_MODEL must be a 96x96x1 MobileNetV1-0.25.
set -euo pipefail
SCRIPT=prune_vww_aux_gray COLOR_MODE=grayscale TASK=${TASK:-vww_gray} exec "$(dirname "$0")/prune_vww_mobilenet_aux.sh"
