"""coursekit.figures: the GIF generator (headless, deterministic, up to date with imgs/), the
numbers the figures show, show_figure's lookup order without network, and the wheel's copy."""

from __future__ import annotations

import io
import math
import os
import shutil
import socket
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import coursekit
from coursekit import figures

ROOT = Path(__file__).resolve().parents[1]
IMGS = ROOT / "imgs"
NAMES = list(figures.FIGURES)
MAX_BYTES = 1_000_000  # hard limit from the issue
TARGET_BYTES = 400_000  # executed notebooks embed the GIFs in their outputs


def _clean_env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND", "PYTHONPATH")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Every figure rendered once into a temporary folder, through the command's entry point."""
    import matplotlib as mpl

    out = tmp_path_factory.mktemp("imgs")
    rc_before = dict(mpl.rcParams)
    assert figures.main(["--out", str(out)]) == 0
    assert dict(mpl.rcParams) == rc_before, "generating figures changed matplotlib's settings"
    return out


@pytest.fixture
def offline(monkeypatch):
    """The network is unreachable: urllib and raw sockets raise."""

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in this test")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


# --- the generator ------------------------------------------------------------------------


@pytest.mark.slow  # renders every figure (about 12 s)
@pytest.mark.parametrize("name", NAMES)
def test_generated_gif_is_valid(generated, name):
    path = generated / f"{name}.gif"
    anim = figures.build(name)
    assert path.stat().st_size < MAX_BYTES
    assert path.stat().st_size < TARGET_BYTES, f"{name}.gif is {path.stat().st_size} bytes"
    with Image.open(path) as im:
        assert im.format == "GIF"
        assert im.size == (400, 250)
        assert im.n_frames == anim.n_frames
        assert im.info.get("loop") == 0  # loops forever
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
    assert durations == anim.durations
    assert 20 <= anim.n_frames <= 60


@pytest.fixture(scope="module")
def convolution_frames():
    from coursekit.figures import _gif

    anim = figures.build("convolution")
    return anim, _gif.render(anim)


@pytest.mark.slow  # renders every figure (about 12 s)
def test_gif_shows_exactly_the_drawn_frames(generated, convolution_frames):
    from coursekit.figures import _gif

    anim, frames = convolution_frames
    data = _gif.encode(anim, frames)
    assert data == (generated / "convolution.gif").read_bytes()  # a second run, same bytes
    decoded, _, comment = _gif.decode(data)
    drawn = [np.asarray(im.convert("RGB")) for im in _gif.quantize(frames)]
    assert len(decoded) == len(drawn)
    for a, b in zip(decoded, drawn, strict=True):
        np.testing.assert_array_equal(a, b)
    assert "coursekit.figures convolution" in comment and "matplotlib" in comment


@pytest.mark.slow  # renders every figure (about 12 s)
def test_generation_is_headless_and_deterministic_across_processes(generated, tmp_path):
    # A fresh interpreter, no display, another hash seed: the same bytes, and no pyplot.
    code = ("import sys; from coursekit.figures import main; "
            f"rc = main(['--out', {str(tmp_path)!r}, 'activation', 'layers.gif']); "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'; sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env=_clean_env(PYTHONHASHSEED="12345"))
    assert result.returncode == 0, result.stderr
    for name in ("activation", "layers"):
        assert (tmp_path / f"{name}.gif").read_bytes() == (generated / f"{name}.gif").read_bytes()


@pytest.mark.slow  # renders every figure (about 12 s)
def test_committed_imgs_are_up_to_date(generated):
    stale = []
    for name in NAMES:
        committed = IMGS / f"{name}.gif"
        if not committed.is_file():
            stale.append(f"imgs/{name}.gif is missing")
        elif (why := figures.difference(committed.read_bytes(),
                                        (generated / f"{name}.gif").read_bytes())):
            stale.append(f"imgs/{name}.gif is out of date: {why}")
    drawn = {f"{name}.gif" for name in NAMES}
    stale += [f"imgs/{p.name} is not drawn by coursekit.figures" for p in IMGS.iterdir()
              if p.name not in drawn]
    assert not stale, "\n".join(stale) + "\nRun `coursekit figures` and commit imgs/."


@pytest.mark.slow  # renders every figure (about 12 s)
def test_check_command_reports_a_stale_figure(generated, tmp_path, capsys):
    shutil.copy(generated / "layers.gif", tmp_path / "layers.gif")
    assert figures.main(["--check", "--out", str(tmp_path), "layers"]) == 0
    shutil.copy(IMGS / "neuron.gif", tmp_path / "layers.gif")
    assert figures.main(["--check", "--out", str(tmp_path), "layers"]) == 1
    assert "layers.gif is out of date" in capsys.readouterr().out


def test_difference_tolerates_other_library_versions_only(convolution_frames, monkeypatch):
    from coursekit.figures import _gif

    anim, frames = convolution_frames
    committed = _gif.encode(anim, frames)
    moved = [f.copy() for f in frames]
    moved[3][100:104, 100:104] = 0  # a few pixels, as another freetype might rasterise
    assert "pixels changed" in figures.difference(committed, _gif.encode(anim, moved))
    shorter = _gif.Animation(anim.name, anim.draw, anim.steps[:-1])
    assert "frames" in figures.difference(committed, _gif.encode(shorter, frames[:-1]))
    monkeypatch.setattr(_gif, "library_versions", lambda: "matplotlib 0.0, pillow 0.0")
    assert figures.difference(committed, _gif.encode(anim, moved)) is None


def test_unknown_figure_name_is_an_error(capsys):
    assert figures.main(["no_such_figure"]) == 2
    assert "known figures: neuron" in capsys.readouterr().err


# --- the numbers the figures show ---------------------------------------------------------


def test_neuron_numbers_are_consistent():
    from coursekit.figures import neuron

    v = neuron.values()
    assert np.allclose(v["products"], v["w"] * v["x"])
    assert math.isclose(v["sum"], float(np.dot(v["w"], v["x"])))
    assert math.isclose(v["z"], float(np.dot(v["w"], v["x"])) + v["b"])
    assert math.isclose(v["a"], 1 / (1 + math.exp(-v["z"])))
    assert list(v["x"]) == [0.5, -1.0, 2.0]


def test_activation_slopes_are_the_derivatives():
    from coursekit.figures import activation

    xs = activation.inputs()
    assert not np.any(np.isclose(xs, 0.0))  # never on ReLU's kink
    h = 1e-6
    for name, (f, df, _) in activation.FUNCTIONS.items():
        numeric = (f(xs + h) - f(xs - h)) / (2 * h)
        np.testing.assert_allclose(df(xs), numeric, atol=1e-6, err_msg=name)
    # the sweep reaches saturation: sigmoid and tanh flat at both ends, ReLU flat on the left
    for name in ("sigmoid", "tanh"):
        slope = activation.FUNCTIONS[name][1](xs)
        assert slope[0] < activation.SATURATED and slope[-1] < activation.SATURATED
    assert activation.FUNCTIONS["ReLU"][1](xs[0]) == 0


def test_network_gradients_match_finite_differences():
    from coursekit.figures import network

    grads = network.backward(network.PARAMS, network.forward(network.PARAMS, network.X))
    eps = 1e-6
    for key, p in network.PARAMS.items():
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            plus = {k: v.copy() for k, v in network.PARAMS.items()}
            minus = {k: v.copy() for k, v in network.PARAMS.items()}
            plus[key][idx] += eps
            minus[key][idx] -= eps
            numeric[idx] = (network.forward(plus, network.X)["loss"]
                            - network.forward(minus, network.X)["loss"]) / (2 * eps)
        np.testing.assert_allclose(grads[key], numeric, atol=1e-7, err_msg=key)
    v = network.values()
    assert v["new_acts"]["loss"] < v["acts"]["loss"]


def test_convolution_is_the_real_cross_correlation():
    from numpy.lib.stride_tricks import sliding_window_view

    from coursekit.figures import convolution as conv

    p, s, k = conv.PADDING, conv.STRIDE, conv.KERNEL.shape[0]
    windows = sliding_window_view(np.pad(conv.IMAGE, p), (k, k))[::s, ::s]  # (H', W', K, K)
    expected = np.einsum("ijkl,kl->ij", windows, conv.KERNEL)
    out = conv.cross_correlate(conv.IMAGE, conv.KERNEL, p, s)
    np.testing.assert_array_equal(out, expected)
    assert out.shape == ((5 + 2 * p - k) // s + 1,) * 2 == (3, 3)
    assert conv.output_size(5, 3, 1, 2) == 3 and conv.output_size(7, 3, 0, 1) == 5


def test_attention_matches_a_loop_reference():
    from coursekit.figures import attention

    q, k, v = attention.Q, attention.K, attention.V
    scores, weights, out = attention.attention(q, k, v)
    d = q.shape[1]
    for i in range(len(q)):
        s = [float(np.dot(q[i], k[j])) / math.sqrt(d) for j in range(len(k))]
        e = [math.exp(x) for x in s]
        a = [x / sum(e) for x in e]
        np.testing.assert_allclose(scores[i], s)
        np.testing.assert_allclose(weights[i], a)
        np.testing.assert_allclose(out[i], sum(a[j] * v[j] for j in range(len(v))))


# --- show_figure --------------------------------------------------------------------------


def test_show_figure_reads_the_checkout_without_network(offline):
    from IPython.display import Image as IPyImage

    img = figures.show_figure("neuron")
    assert isinstance(img, IPyImage)
    assert img.data == (IMGS / "neuron.gif").read_bytes()  # embedded bytes, not a link
    data, _ = img._repr_mimebundle_()
    assert "image/gif" in data
    assert figures.show_figure("neuron.gif").data == img.data
    assert coursekit.show_figure is figures.show_figure
    assert figures.figure_bytes("layers")[1] == str(IMGS / "layers.gif")


def test_show_figure_uses_the_package_copy_without_network(offline, monkeypatch, tmp_path):
    # The shape of an installed wheel: a namespace package folder holding the GIFs.
    package = tmp_path / "ck_test_imgs"
    package.mkdir()
    shutil.copy(IMGS / "attention.gif", package / "attention.gif")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(figures, "repository_imgs", lambda: None)
    monkeypatch.setattr(figures, "PACKAGE_DATA", "ck_test_imgs")
    data, source = figures.figure_bytes("attention")
    assert data == (IMGS / "attention.gif").read_bytes()
    assert source == "ck_test_imgs/attention.gif"


def test_raw_url_is_the_last_resort(monkeypatch):
    gif = (IMGS / "neuron.gif").read_bytes()
    asked = []

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(url, timeout=None):
        asked.append(url)
        return Response(gif)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    figures.show_figure("neuron")  # local copies exist: the network is not asked
    assert asked == []
    monkeypatch.setattr(figures, "repository_imgs", lambda: None)
    monkeypatch.setattr(figures, "_package_bytes", lambda filename: None)
    img = figures.show_figure("neuron")
    assert asked == [figures.RAW_BASE_URL + "neuron.gif"]
    assert img.data == gif
    assert coursekit.REPOSITORY in figures.RAW_BASE_URL
    assert figures.RAW_BASE_URL.startswith("https://raw.githubusercontent.com/")


def test_unknown_figure_says_where_it_looked(offline):
    with pytest.raises(FileNotFoundError) as err:
        figures.show_figure("no_such_figure")
    message = str(err.value)
    for part in ("no_such_figure.gif", "repository checkout", "installed package",
                 figures.RAW_BASE_URL + "no_such_figure.gif", "network disabled",
                 "coursekit figures", "Known figures: neuron"):
        assert part in message


def test_a_web_page_instead_of_a_gif_is_not_shown(monkeypatch):
    class Page(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Page(b"<html>"))
    monkeypatch.setattr(figures, "repository_imgs", lambda: None)
    monkeypatch.setattr(figures, "_package_bytes", lambda filename: None)
    with pytest.raises(FileNotFoundError, match="not an image"):
        figures.show_figure("neuron")


@pytest.mark.parametrize("name", ["../pyproject.toml", "a/b", "", "neuron.txt", None])
def test_names_must_be_bare(name):
    with pytest.raises(ValueError, match="bare name"):
        figures.show_figure(name)


def test_showing_a_figure_does_not_import_matplotlib():
    code = ("import sys; from coursekit import show_figure; show_figure('neuron'); "
            "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=_clean_env())
    assert result.returncode == 0, result.stderr


# --- packaging: one copy in imgs/, shipped in the wheel -----------------------------------


def test_every_coursekit_package_is_listed_for_the_wheel():
    setuptools_cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools_cfg["packages"])
    assert setuptools_cfg["package-dir"] == {"coursekit._imgs": "imgs"}
    assert "*.gif" in setuptools_cfg["package-data"]["coursekit._imgs"]
    on_disk = {".".join(d.relative_to(ROOT).parts) for d in (ROOT / "coursekit").rglob("*")
               if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))}
    on_disk.add("coursekit")
    missing = sorted(on_disk - listed)
    assert not missing, (f"add {missing} to [tool.setuptools] packages in pyproject.toml, "
                         "or the wheel will not contain them")
    gone = sorted(p for p in listed - on_disk - {"coursekit._imgs"})
    assert not gone, f"[tool.setuptools] packages lists {gone}, which do not exist"


@pytest.mark.slow
def test_wheel_ships_the_figures_and_show_figure_finds_them(tmp_path):
    # Build from a copy so that no build/ folder is left in the checkout.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("coursekit", "imgs"):
        shutil.copytree(ROOT / folder, src / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         str(src), "-w", str(wheels)], capture_output=True, text=True, timeout=300,
        env=_clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INDEX="1"))
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("coursekit-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name in NAMES:
            assert zf.read(f"coursekit/_imgs/{name}.gif") == (IMGS / f"{name}.gif").read_bytes()
        zf.extractall(tmp_path / "site")
    assert not any(n.startswith("imgs/") for n in names), "a top-level imgs/ in site-packages"

    # Installed like in Colab: no checkout beside it, no network.
    code = (
        "import urllib.request, urllib.error\n"
        "def refuse(*a, **k): raise urllib.error.URLError('offline')\n"
        "urllib.request.urlopen = refuse\n"
        "import coursekit, coursekit.figures as f\n"
        f"assert coursekit.__file__.startswith({str(tmp_path / 'site')!r}), coursekit.__file__\n"
        "assert f.repository_imgs() is None\n"
        "data, source = f.figure_bytes('backprop')\n"
        "assert f.show_figure('backprop').data == data\n"
        "print(source, len(data))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120,
                         env=_clean_env(PYTHONPATH=str(tmp_path / "site")))
    assert run.returncode == 0, run.stderr
    source, size = run.stdout.split()
    assert source == "coursekit._imgs/backprop.gif"
    assert int(size) == (IMGS / "backprop.gif").stat().st_size
