"""Where tools/setup.sh gets PyTorch from, decided from the machine (run by setup.sh).

    python tools/torch_source.py            # prints one line: SOURCE<TAB>pip arguments
    python tools/torch_source.py --system Linux --gpu none --wheels ""   # what a case would do

The rule, first match wins:
  1. a wheel folder given explicitly (COURSEKIT_WHEELS, or --wheels) holding a torch wheel:
     install from there (offline machines, CI images with a local wheel);
  2. Linux with an NVIDIA GPU (the driver answers): PyPI's torch, the CUDA build;
  3. Linux without one: PyTorch's own CPU index (PyPI's Linux wheel is the CUDA build, several
     GB of nvidia-* packages a laptop without a GPU never uses);
  4. macOS and Windows: PyPI's torch (CPU, and MPS on Apple silicon).
The version is the one constraints.txt pins.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
ROOT = Path(__file__).resolve().parents[1]


def pinned_version() -> str:
    text = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    m = re.search(r"^torch==(\S+)", text, re.M)
    if not m:
        raise SystemExit("constraints.txt must pin torch==VERSION")
    return m[1]


def has_nvidia_gpu() -> bool:
    if Path("/proc/driver/nvidia/gpus").is_dir() and any(Path("/proc/driver/nvidia/gpus").iterdir()):
        return True
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def decide(system: str, gpu: bool, wheels: str, version: str) -> tuple[str, list[str]]:
    """(a short name of the source, the pip arguments that install torch from it)."""
    requirement = f"torch=={version}"
    if wheels and any(Path(wheels).glob("torch-*.whl")):
        return "wheels", ["--find-links", wheels, requirement]
    if system == "Linux" and gpu:
        return "pypi-cuda", [requirement]
    if system == "Linux":
        return "pytorch-cpu-index", ["--index-url", CPU_INDEX, requirement]
    return "pypi", [requirement]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default=platform.system())
    parser.add_argument("--gpu", choices=("auto", "nvidia", "none"), default="auto")
    parser.add_argument("--wheels", default=os.environ.get("COURSEKIT_WHEELS", ""))
    args = parser.parse_args()
    gpu = has_nvidia_gpu() if args.gpu == "auto" else args.gpu == "nvidia"
    source, pip_args = decide(args.system, gpu, args.wheels, pinned_version())
    print(source + "\t" + " ".join(pip_args))


if __name__ == "__main__":
    main()
