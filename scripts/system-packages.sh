#!/usr/bin/env bash
# Debian packages the app works better with, installed when absent and when this runs as root
# with apt-get (otherwise it prints the command and goes on: nothing here is required).
#   run  — what printing needs: a CJK font for Chinese text and HarfBuzz's subsetting library
#          (without it every Chinese PDF takes ~2 s more: benchmarks/README.md, "Documents")
#   test — the above, and what the browser and PDF tests use: Chromium and poppler's tools
#          (the Playwright browser download cannot work on closed networks)
set -uo pipefail
want=(fonts-wqy-microhei libharfbuzz-subset0)
[ "${1:-run}" = "test" ] && want+=(chromium poppler-utils)

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "installing ${missing[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
    >/dev/null) || echo "could not install ${missing[*]}; the tests that need them skip"
elif command -v dpkg-query >/dev/null 2>&1; then
  echo "for fast PDFs and Chinese text, install: sudo apt-get install ${missing[*]}"
fi
exit 0
