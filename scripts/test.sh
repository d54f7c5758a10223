#!/usr/bin/env bash
# Installs everything the test suite needs and runs it: lint, types, then every test.
# Usage: ./scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: Debian's chromium drives the browser tests (Playwright cannot download its own
# browser here) and dovecot is the throwaway IMAP server of the e-mail tests.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "note: ${need[*]} missing; run 'sudo apt-get install ${need[*]}' or those tests are skipped" >&2
  fi
fi

# A virtual environment of the project's own unless one is active already.
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -d .venv ] || python3 -m venv .venv
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test]"

ruff check .
mypy
python -m pytest "$@"
