#!/usr/bin/env bash
# Install the Debian packages given as arguments when their commands are missing.
# Usage: tools/ensure_apt.sh PACKAGE[:COMMAND] ...   (COMMAND defaults to PACKAGE)
set -euo pipefail
missing=()
for spec in "$@"; do
  pkg=${spec%%:*}; cmd=${spec#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "Missing Debian packages: ${missing[*]}. Run:" >&2
  echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
