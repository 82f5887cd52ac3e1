#!/usr/bin/env bash
# The Debian packages `make bench` uses, installed only when missing: wrk sends P2's flood.
set -euo pipefail
command -v wrk >/dev/null 2>&1 && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "make bench needs wrk (https://github.com/wg/wrk) on the PATH" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
fi
$sudo apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk
