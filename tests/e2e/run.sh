#!/usr/bin/env bash
# Browser tests for the Kanect web app, as CI runs them: `bash tests/e2e/run.sh`.
#
# Installs what it needs on a fresh machine (Chromium from Debian if /usr/bin/chromium is
# missing, an emoji font, aiosmtpd for the mail test, the npm packages from the lock file), builds the server example
# (honouring CARGO_TARGET_DIR), runs every tests/e2e/*.test.js with Node's test runner, and ends with
# "N passed, N failed". Exits non-zero on any failure. Screenshots: target/e2e-screenshots/.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium =="
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y chromium
fi
# An emoji font, so that screenshots show the emoji people send (and the web app's own, such
# as the attachment clip) rather than empty boxes; the tests check jumbo emoji by layout.
if [ ! -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then
  echo "== installing an emoji font =="
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y fonts-noto-color-emoji
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== installing node and npm =="
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y nodejs npm
fi

# mail.test.js mails through a real SMTP server, aiosmtpd, which it starts with this Python.
if ! "${KANECT_TEST_SMTP:-python3}" -c 'import aiosmtpd' 2>/dev/null; then
  echo "== installing aiosmtpd =="
  python3 -m pip install --quiet aiosmtpd || python3 -m pip install --quiet --break-system-packages aiosmtpd
fi

echo "== npm ci =="
(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)

echo "== cargo build --package kanect-server --all-features (the kanect binary, as the Rust tests build it) =="
cargo build --locked --package kanect-server --all-features

TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$REPO/$TARGET_DIR" ;; esac
export KANECT_SERVER_BIN="$TARGET_DIR/debug/kanect"
[ -x "$KANECT_SERVER_BIN" ] || { echo "no server binary at $KANECT_SERVER_BIN"; exit 1; }

echo "== browser tests =="
# Two files at a time (each in a process of its own, with its own servers and browser; a
# file's tests run in turn): the tests mostly wait on the browser and the server, so two
# share the machine's two cores well and take about half the time.
TAP="$(mktemp)"
trap 'rm -f "$TAP"' EXIT
status=0
(cd "$HERE" && timeout 1200 node --test --test-concurrency=2 --test-timeout=180000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$TAP" \
  ./*.test.js) || status=$?

passed=$(grep -E '^# pass [0-9]+' "$TAP" | awk '{print $3}' | tail -1)
failed=$(grep -E '^# fail [0-9]+' "$TAP" | awk '{print $3}' | tail -1)
passed=${passed:-0}
failed=${failed:-0}
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
  echo "no browser test ran"
  failed=1
fi
echo "screenshots: $REPO/target/e2e-screenshots/"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
