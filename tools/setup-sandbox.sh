#!/usr/bin/env bash
# Set up what the grading sandbox needs: idempotent, safe to re-run, says what it did.
#   sudo bash tools/setup-sandbox.sh
# 1. bubblewrap (bwrap), from the distribution (apt-get; other package managers: install it by hand)
# 2. a system user and group `coursekit-sandbox` (no home, no login shell) that student code
#    runs as when `coursekit grade` runs as root. Non-root graders need only bwrap and
#    unprivileged user namespaces (then student code runs as the grader's own uid, mapped).
# Environment: COURSEKIT_SANDBOX_USER (default coursekit-sandbox).
set -euo pipefail
USER_NAME=${COURSEKIT_SANDBOX_USER:-coursekit-sandbox}

if [ "$(id -u)" != 0 ]; then
  echo "setup-sandbox: not root: nothing installed."
  if command -v bwrap >/dev/null && bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
    echo "setup-sandbox: bwrap works with user namespaces here: \`coursekit grade\` can sandbox as $(id -un)."
    exit 0
  fi
  echo "setup-sandbox: run this script as root (sudo) to install bubblewrap and create $USER_NAME." >&2
  exit 1
fi

if command -v bwrap >/dev/null; then
  echo "setup-sandbox: bubblewrap already installed ($(bwrap --version))"
elif command -v apt-get >/dev/null; then
  echo "setup-sandbox: installing bubblewrap with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  echo "setup-sandbox: installed $(bwrap --version)"
else
  echo "setup-sandbox: bubblewrap is missing and apt-get is not available: install it (package 'bubblewrap')." >&2
  exit 1
fi

if id -u "$USER_NAME" >/dev/null 2>&1; then
  echo "setup-sandbox: user $USER_NAME already exists (uid $(id -u "$USER_NAME"))"
else
  nologin=$(command -v nologin || echo /usr/sbin/nologin)
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$nologin" "$USER_NAME"
  echo "setup-sandbox: created system user $USER_NAME (uid $(id -u "$USER_NAME"), no home, no login)"
fi
# A quick end-to-end probe: a sandbox that can run a command as that user.
if bwrap --unshare-net --unshare-pid --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
     --symlink usr/lib64 /lib64 --proc /proc --dev /dev --cap-add CAP_SETUID --cap-add CAP_SETGID \
     -- /usr/bin/setpriv --reuid="$(id -u "$USER_NAME")" --regid="$(id -g "$USER_NAME")" --clear-groups --no-new-privs \
        /usr/bin/true; then
  echo "setup-sandbox: sandbox probe passed"
else
  echo "setup-sandbox: sandbox probe failed: bwrap cannot start a sandbox on this host" >&2
  exit 1
fi
