"""`make course`, the README's first command, verified headlessly: it sets up, runs
`coursekit doctor`, and starts JupyterLab serving notebooks/ with this environment's kernel."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_make_course_starts_jupyterlab_on_the_notebooks(tmp_path):
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("tests are not running from the repository's .venv")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"))
    lab_args = "--no-browser --port=0 --ServerApp.token=coursekit-test --ServerApp.ip=127.0.0.1"
    proc = subprocess.Popen(["make", "course", f"LAB_ARGS={lab_args}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    # A reader thread, so that a server that never prints its address fails at the deadline
    # instead of blocking readline() forever.
    log: list[str] = []

    def read_lines():
        for line in proc.stdout:
            log.append(line)

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    try:
        url = None
        deadline = time.monotonic() + 300
        while url is None and time.monotonic() < deadline and (reader.is_alive() or log):
            # Jupyter Server masks a token given on the command line ("/lab?token=..."): match the address.
            if m := re.search(r"(http://127\.0\.0\.1:\d+)/lab\?token=", "".join(log)):
                url = m.group(1)
            elif not reader.is_alive():
                break
            else:
                time.sleep(0.5)
        assert url, "JupyterLab did not start:\n" + "".join(log[-40:])
        doctor = "".join(log)
        assert "torch" in doctor.lower()  # coursekit doctor ran first and printed its table

        def get(path):
            with urllib.request.urlopen(f"{url}{path}?token=coursekit-test", timeout=30) as r:
                return json.load(r)

        listing = get("/api/contents")
        names = {item["name"] for item in listing["content"]}
        assert "01_neurons.ipynb" in names
        specs = get("/api/kernelspecs")
        assert "python3" in specs["kernelspecs"]
        # nbgrader's instructor pages and menus are off for students
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"{url}/formgrader?token=coursekit-test", timeout=30)
        with urllib.request.urlopen(f"{url}/lab?token=coursekit-test", timeout=30) as r:
            page = r.read().decode()
        assert re.search(r'"disabledExtensions": \[[^\]]*"@jupyter/nbgrader"', page)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
