"""coursekit.device: device choice (GPUs faked by monkeypatching), threads, light import."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from coursekit.device import (
    DEFAULT_THREADS,
    DEVICE_ENV,
    THREADS_ENV,
    available_devices,
    configure_threads,
    get_device,
)


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    monkeypatch.delenv(THREADS_ENV, raising=False)


@pytest.fixture
def fake_cuda(monkeypatch):
    """Pretend one CUDA device exists (torch.device('cuda') needs no GPU to be created)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_cpu_when_no_gpu(no_env, no_gpu):
    assert available_devices() == ["cpu"]
    assert get_device() == torch.device("cpu")
    assert get_device("auto") == torch.device("cpu")


def test_prefers_cuda_then_mps(no_env, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device().type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert available_devices() == ["cuda", "mps", "cpu"]
    assert get_device().type == "cuda"


def test_env_and_prefer_override(no_env, fake_cuda, monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert get_device() == torch.device("cpu")
    assert get_device("cuda") == torch.device("cuda")  # prefer wins over the environment
    assert get_device("cuda:0") == torch.device("cuda:0")
    assert get_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setenv(DEVICE_ENV, " AUTO ")
    assert get_device().type == "cuda"


def test_unavailable_request_names_what_is_available(no_env, no_gpu, monkeypatch):
    with pytest.raises(ValueError, match=r"cuda.*not available.*available: \['cpu'\]"):
        get_device("cuda")
    monkeypatch.setenv(DEVICE_ENV, "mps")
    with pytest.raises(ValueError, match=r"\$COURSEKIT_DEVICE='mps'.*available: \['cpu'\]"):
        get_device()


def test_bad_names_and_indices(no_env, fake_cuda):
    with pytest.raises(ValueError, match="not a device name"):
        get_device("banana")
    with pytest.raises(ValueError, match=r"only 1 CUDA device"):
        get_device("cuda:3")


def test_configure_threads_default_and_explicit(no_env, restore_threads):
    assert DEFAULT_THREADS == 1
    assert configure_threads() == 1
    assert torch.get_num_threads() == 1
    assert configure_threads(2) == 2


def test_configure_threads_env(no_env, restore_threads, monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "2")
    assert configure_threads() == 2
    assert configure_threads(1) == 1  # an explicit n wins
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(ValueError, match="COURSEKIT_THREADS='many' is not an integer"):
        configure_threads()
    monkeypatch.setenv(THREADS_ENV, "0")
    with pytest.raises(ValueError, match=">= 1"):
        configure_threads()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_configure_threads_rejects(no_env, restore_threads, bad):
    with pytest.raises(ValueError, match="integer >= 1"):
        configure_threads(bad)


def test_import_is_light():
    """The NumPy-side modules must not pull in torch or tensorflow (timing is only printed)."""
    code = (
        "import time; t = time.perf_counter(); "
        "import coursekit, coursekit.data, coursekit.device, coursekit.seed, "
        "coursekit.gradcheck, coursekit.plot, coursekit.train, coursekit.instructor.doctor; "
        "import sys; print(f'{time.perf_counter() - t:.2f}'); "
        "bad = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]; "
        "assert not bad, bad"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    print(f"import coursekit + core modules: {out.stdout.strip()} s "
          f"(process: {time.perf_counter() - t0:.2f} s)")
