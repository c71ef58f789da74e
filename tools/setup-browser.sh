#!/usr/bin/env bash
# Set up the browser that tests/test_browser.py drives: idempotent, safe to re-run, says what it did.
#   sudo bash tools/setup-browser.sh
# 1. Chromium from the distribution (apt-get: Debian's `chromium`; Playwright's own browser
#    download is not used, so the test needs no access to Playwright's CDN), and a colour emoji
#    font so that the screenshots show the checks' ✅ / ⏳ marks instead of empty boxes.
# 2. A probe: headless Chromium renders a page.
# Playwright for Python itself comes with the `dev` extra (tools/setup.sh installs it).
# Not root: nothing is installed; the browser test is then skipped, naming what is missing
# (in CI, or as root, it fails instead). Elsewhere than Debian: install Chromium by hand and set
# COURSEKIT_CHROMIUM to its path (Ubuntu's `chromium` package is a snap, which containers lack).
set -euo pipefail
CHROMIUM=${COURSEKIT_CHROMIUM:-/usr/bin/chromium}

missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium fonts-liberation)  # fonts: a recommends, not a dependency
if command -v fc-list >/dev/null && ! fc-list | grep -qi 'color emoji'; then
  missing+=(fonts-noto-color-emoji)
fi

if [ "${#missing[@]}" = 0 ]; then
  echo "setup-browser: $("$CHROMIUM" --version 2>/dev/null | head -n1) already installed"
elif [ "$(id -u)" != 0 ]; then
  echo "setup-browser: not root: nothing installed (missing: ${missing[*]})." >&2
  echo "setup-browser: run this script as root (sudo) for the browser test (tests/test_browser.py)." >&2
  [ -x "$CHROMIUM" ] || exit 1
  exit 0
elif command -v apt-get >/dev/null; then
  echo "setup-browser: installing ${missing[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup-browser: installed $("$CHROMIUM" --version 2>/dev/null | head -n1)"
else
  echo "setup-browser: ${missing[*]} missing and apt-get is not available: install Chromium and set COURSEKIT_CHROMIUM." >&2
  exit 1
fi

# --no-sandbox: Chromium's own sandbox cannot start as root (CI); Playwright passes it too.
if "$CHROMIUM" --headless --no-sandbox --disable-gpu --dump-dom 'data:text/html,<p>probe-ok</p>' 2>/dev/null \
    | grep -q probe-ok; then
  echo "setup-browser: headless Chromium probe passed"
else
  echo "setup-browser: headless Chromium probe failed: $CHROMIUM cannot render a page here" >&2
  exit 1
fi
