#!/usr/bin/env bash
# What the browser tests (tests/test_browser.py) need: Debian's chromium at /usr/bin/chromium, driven by the
# playwright Python package (a project dev dependency). Never downloads a browser build: no `playwright install`.
# Idempotent and quick when chromium is already there.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
/usr/bin/chromium --version 2>/dev/null
