#!/usr/bin/env bash
# Set up (or refresh) the course environment in .venv: idempotent, safe to re-run.
#   bash tools/setup.sh          create/refresh .venv with coursekit[all]
# Environment: PYTHON (default python3); COURSEKIT_WHEELS (a folder of local wheels, passed to
# pip with --find-links: a torch wheel there wins over any index); COURSEKIT_ALLOW_CUDA=1 to
# accept a CUDA build of torch where a CPU one was expected. Where PyTorch comes from otherwise
# (CPU index on Linux without an NVIDIA GPU, PyPI elsewhere): tools/torch_source.py.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.coursekit-setup-stamp

if ! "$PYTHON" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 13)))' 2>/dev/null; then
  echo "setup: coursekit needs Python 3.11 to 3.13; '$PYTHON' is $("$PYTHON" --version 2>&1 || echo missing)." >&2
  echo "setup: install one, or run with PYTHON=/path/to/python3.11" >&2
  exit 1
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"

# Re-install only when what we install from changed (keeps `make test` quick on a warm machine).
want=$(cat pyproject.toml constraints.txt tools/setup.sh tools/torch_source.py | sha256sum | cut -d' ' -f1)
IFS=$'\t' read -r torch_source torch_args < <("$VENV/bin/python" tools/torch_source.py)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "setup: .venv is up to date"
else
  find_links=()
  [ -n "${COURSEKIT_WHEELS:-}" ] && find_links=(--find-links "$COURSEKIT_WHEELS")
  start=$(date +%s)
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  # PyTorch first, from the source that fits this machine (tools/torch_source.py says why);
  # the course's own install then finds it already satisfied.
  echo "setup: PyTorch from ${torch_source} (pip install ${torch_args})"
  # shellcheck disable=SC2086 # the arguments are words on purpose
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $torch_args
  # PYTHONWARNINGS: setuptools' notice about editable installs is not for students
  PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      -c constraints.txt "${find_links[@]}" -e ".[all]"
  echo "setup: installed in $(( $(date +%s) - start )) s"
  echo "$want" > "$STAMP"
fi

# Fail loudly if a CUDA build of torch (several GB) came in where the CPU one was meant to.
if [ "$torch_source" != "pypi-cuda" ] && [ "${COURSEKIT_ALLOW_CUDA:-0}" != 1 ]; then
  "$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import sys

import torch

cuda_pkgs = sorted(d.metadata["Name"] for d in md.distributions()
                   if (d.metadata["Name"] or "").lower().startswith("nvidia-"))
if torch.version.cuda is not None or cuda_pkgs:
    print(f"setup: expected the CPU build of torch, got torch {torch.__version__} "
          f"(CUDA {torch.version.cuda}) with {cuda_pkgs or 'no'} nvidia packages.\n"
          "setup: remove .venv and re-run (see tools/torch_source.py for where torch comes from), "
          "or set COURSEKIT_ALLOW_CUDA=1.", file=sys.stderr)
    sys.exit(1)
print(f"setup: torch {torch.__version__} (CPU build), no CUDA packages")
PY
fi

# The grading sandbox (bubblewrap and an unprivileged user) can only be set up as root; as a
# student you don't need it, and `coursekit grade` says how to set it up when it is missing.
if [ "$(id -u)" = 0 ]; then
  bash tools/setup-sandbox.sh
fi

# The browser test (tests/test_browser.py) drives JupyterLab in Debian's Chromium, installed with
# apt-get, so as root only (CI); Playwright for Python comes with the dev extra above.
if [ "$(id -u)" = 0 ]; then
  bash tools/setup-browser.sh
fi
