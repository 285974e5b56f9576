#!/usr/bin/env bash
# Debian packages the project needs beyond Python: Chromium for the workbench's browser tests
# (tests/test_workbench.py drives Debian's /usr/bin/chromium through Playwright; Playwright's own
# browser download cannot work on a closed network) and, with --fonts, Noto CJK for screenshots
# that show Chinese text. Idempotent: installs only what is missing. Called by .ci/run.
set -euo pipefail
packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
if [[ "${1:-}" == "--fonts" ]] && ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    packages+=(fonts-noto-cjk)
fi
if ((${#packages[@]} == 0)); then
    echo "debian-packages: nothing to install"
    exit 0
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "debian-packages: need root or sudo to install ${packages[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "debian-packages: installing ${packages[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
chromium --version
