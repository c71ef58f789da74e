"""coursekit.data: bundled sets, toy sets, series, splits, loaders and the IDX reader."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from coursekit import data
from coursekit.data import (
    DataError,
    digits,
    gaussian_mixture_2d,
    kfold_indices,
    load_idx,
    load_mnist,
    make_loader,
    make_windows,
    ring_centers,
    seasonal_series,
    text_corpus,
    toy_2d,
    train_val_test_split,
)

# ---------------------------------------------------------------- bundled data


def test_digits_images_and_flat():
    X, y = digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    Xf, yf = digits(flat=True, dtype=np.float64)
    assert Xf.shape == (1797, 64) and Xf.dtype == np.float64
    np.testing.assert_array_equal(Xf.reshape(-1, 1, 8, 8).astype(np.float32), X)
    np.testing.assert_array_equal(yf, y)


def test_text_corpus_is_the_sonnets():
    text = text_corpus()
    assert text == text_corpus("sonnets")
    assert len(text.encode("utf-8")) >= 20_000
    assert text.startswith("THE SONNETS")
    assert "Shall I compare thee to a summer's day?" in text
    assert "From fairest creatures we desire increase," in text
    # Sonnets I..XL, each a Roman-numeral heading and 14 lines of verse.
    blocks = re.split(r"\n\n([IVXL]+)\n\n", text)
    numerals, bodies = blocks[1::2], blocks[2::2]
    assert len(numerals) == 40 and numerals[0] == "I" and numerals[-1] == "XL"
    assert all(len(body.strip("\n").split("\n")) == 14 for body in bodies)
    assert text.isascii()


def test_text_corpus_unknown():
    with pytest.raises(ValueError, match=r"unknown corpus 'bible'; available: \['sonnets'\]"):
        text_corpus("bible")


# ---------------------------------------------------------------- toy sets


@pytest.mark.parametrize("name", data.TOY_NAMES)
def test_toy_2d_shapes_balance_and_determinism(name):
    X, y = toy_2d(name, n=301, seed=3)
    assert X.shape == (301, 2) and X.dtype == np.float32
    assert y.shape == (301,) and y.dtype == np.int64
    assert sorted(np.bincount(y).tolist()) == [150, 151]
    X2, y2 = toy_2d(name, n=301, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, toy_2d(name, n=301, seed=4)[0])
    assert y[:20].min() != y[:20].max()  # shuffled, not in class blocks


def test_toy_2d_shapes_are_right_without_noise():
    X, y = toy_2d("circles", n=200, noise=0.0)
    r = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(r[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.5, rtol=1e-6)
    X, y = toy_2d("xor", n=200, noise=0.0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))
    X, y = toy_2d("gaussians", n=90, noise=0.0, k=3)
    np.testing.assert_allclose(X, ring_centers(3, radius=1.0)[y], atol=1e-6)


@pytest.mark.parametrize("name", ["spirals", "gaussians"])
def test_toy_2d_k_classes(name):
    X, y = toy_2d(name, n=500, k=5)
    assert np.bincount(y).tolist() == [100] * 5


def test_toy_2d_bad_input():
    with pytest.raises(ValueError, match=r"unknown toy dataset 'swirl'; choose one of \['moons'"):
        toy_2d("swirl")
    with pytest.raises(ValueError, match="exactly 2 classes"):
        toy_2d("moons", k=3)
    with pytest.raises(ValueError, match="k must be >= 2"):
        toy_2d("spirals", k=1)
    with pytest.raises(ValueError, match="too small"):
        toy_2d("spirals", n=2, k=3)
    with pytest.raises(ValueError, match="noise"):
        toy_2d("moons", noise=-1)


def test_gaussian_mixture_on_ring():
    X = gaussian_mixture_2d(4000, k=8, radius=2.0, std=0.02, seed=1)
    assert X.shape == (4000, 2) and X.dtype == np.float32
    centers = ring_centers(8, 2.0)
    assert centers.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 2.0, rtol=1e-6)
    dist = np.linalg.norm(X[:, None, :] - centers[None], axis=2)  # (N, K)
    assert dist.min(axis=1).max() < 0.15  # every sample sits on a mode
    counts = np.bincount(dist.argmin(axis=1), minlength=8)
    assert counts.min() > 400  # and every mode is used
    np.testing.assert_array_equal(X, gaussian_mixture_2d(4000, seed=1))
    with pytest.raises(ValueError):
        gaussian_mixture_2d(0)
    with pytest.raises(ValueError):
        gaussian_mixture_2d(10, std=-1)
    with pytest.raises(ValueError):
        ring_centers(0)


# ---------------------------------------------------------------- series


def test_seasonal_series():
    s = seasonal_series(n=500, period=50, trend=0.0, noise=0.0)
    assert s.shape == (500,) and s.dtype == np.float32
    np.testing.assert_allclose(s[:-50], s[50:], atol=1e-5)  # exactly periodic
    noisy = seasonal_series(n=500, seed=1)
    np.testing.assert_array_equal(noisy, seasonal_series(n=500, seed=1))
    assert 0.05 < np.std(noisy - seasonal_series(n=500, noise=0.0)) < 0.15
    trend = seasonal_series(n=1000, trend=0.01, noise=0.0) - seasonal_series(n=1000, noise=0.0, trend=0.0)
    np.testing.assert_allclose(trend, 0.01 * np.arange(1000), atol=1e-4)
    with pytest.raises(ValueError):
        seasonal_series(n=0)
    with pytest.raises(ValueError):
        seasonal_series(noise=-0.1)


def test_make_windows():
    s = np.arange(10, dtype=np.float32)
    X, y = make_windows(s, window=3, horizon=2)
    assert X.shape == (6, 3) and y.shape == (6, 2) and X.dtype == np.float32
    np.testing.assert_array_equal(X[0], [0, 1, 2])
    np.testing.assert_array_equal(y[0], [3, 4])
    np.testing.assert_array_equal(X[-1], [5, 6, 7])
    np.testing.assert_array_equal(y[-1], [8, 9])
    X[0, 0] = 99  # copies, not views of the series
    assert s[0] == 0
    X1, y1 = make_windows(s, window=9)
    assert X1.shape == (1, 9) and y1.shape == (1, 1)


def test_make_windows_bad_input():
    with pytest.raises(ValueError, match=r"1-D"):
        make_windows(np.zeros((4, 2)), 2)
    with pytest.raises(ValueError, match="too short"):
        make_windows(np.zeros(5), window=5)
    with pytest.raises(ValueError, match=">= 1"):
        make_windows(np.zeros(5), window=0)


# ---------------------------------------------------------------- splits and loaders


def test_train_val_test_split_stratified():
    X, y = digits(flat=True)
    parts = train_val_test_split(X, y, val=0.15, test=0.15, seed=0)
    X_tr, y_tr, X_va, y_va, X_te, y_te = parts  # a plain 6-tuple unpack works
    assert parts.X_val is X_va
    assert len(X_tr) + len(X_va) + len(X_te) == len(X)
    for Xp, yp, frac in ((X_va, y_va, 0.15), (X_te, y_te, 0.15), (X_tr, y_tr, 0.7)):
        assert len(Xp) == len(yp)
        assert abs(len(yp) - frac * len(y)) <= 10
        # every class keeps its share (to within the per-class rounding)
        np.testing.assert_allclose(np.bincount(yp, minlength=10) / len(yp),
                                   np.bincount(y) / len(y), atol=0.01)
    # a partition: every row lands in exactly one part, paired with its label
    rows = {X[i].tobytes(): y[i] for i in range(len(X))}
    seen = np.concatenate([X_tr, X_va, X_te])
    assert len({r.tobytes() for r in seen}) == len({r.tobytes() for r in X})
    for Xp, yp in ((X_tr, y_tr), (X_te, y_te)):
        assert all(rows[r.tobytes()] == lab for r, lab in zip(Xp, yp, strict=True))
    again = train_val_test_split(X, y, seed=0)
    np.testing.assert_array_equal(again.y_test, y_te)
    assert not np.array_equal(train_val_test_split(X, y, seed=1).y_test, y_te)


def test_train_val_test_split_unstratified_and_regression():
    X = np.arange(100, dtype=np.float32).reshape(100, 1)
    y = np.linspace(0, 1, 100).reshape(100, 1)  # regression targets (N, 1)
    s = train_val_test_split(X, y, val=0.2, test=0.1, stratify=False)
    assert (len(s.X_train), len(s.X_val), len(s.X_test)) == (70, 20, 10)
    np.testing.assert_array_equal(s.X_train[:, 0] / 99, s.y_train[:, 0].astype(np.float32))
    s0 = train_val_test_split(X, y, val=0.0, test=0.0, stratify=False)
    assert len(s0.X_train) == 100 and len(s0.X_val) == 0


def test_train_val_test_split_bad_input():
    X, y = np.zeros((10, 2)), np.zeros(10, dtype=int)
    with pytest.raises(ValueError, match="one row per example"):
        train_val_test_split(X, y[:9])
    with pytest.raises(ValueError, match="leaves nothing to train on"):
        train_val_test_split(X, y, val=0.5, test=0.5)
    with pytest.raises(ValueError, match=r"val=-0.1 must be a fraction"):
        train_val_test_split(X, y, val=-0.1)
    with pytest.raises(ValueError, match="stratify=False"):
        train_val_test_split(X, np.zeros((10, 1)))
    with pytest.raises(ValueError, match="empty"):
        train_val_test_split(np.zeros((0, 2)), np.zeros(0))


def test_kfold_indices():
    folds = kfold_indices(10, 3, seed=0)
    assert len(folds) == 3
    assert [len(v) for _, v in folds] == [4, 3, 3]
    all_val = np.concatenate([v for _, v in folds])
    np.testing.assert_array_equal(np.sort(all_val), np.arange(10))
    for train, val in folds:
        assert train.dtype == np.int64 and val.dtype == np.int64
        assert set(train).isdisjoint(val) and len(train) + len(val) == 10
        np.testing.assert_array_equal(train, np.sort(train))
    plain = kfold_indices(6, 3, shuffle=False)
    np.testing.assert_array_equal(plain[0][1], [0, 1])
    np.testing.assert_array_equal(plain[0][0], [2, 3, 4, 5])
    assert [v.tolist() for _, v in kfold_indices(10, 3, seed=0)] == [v.tolist() for _, v in folds]


def test_kfold_bad_input():
    with pytest.raises(ValueError, match="at least 2 folds"):
        kfold_indices(10, 1)
    with pytest.raises(ValueError, match="need at least k examples"):
        kfold_indices(3, 5)
    with pytest.raises(ValueError, match="integers"):
        kfold_indices(10.0, 2)


def test_make_loader_dtypes_and_determinism():
    import torch

    X = np.random.default_rng(0).normal(size=(50, 3))
    y = np.arange(50) % 3
    loader = make_loader(X, y, batch_size=16, seed=1)
    batches = list(loader)
    assert [len(b[0]) for b in batches] == [16, 16, 16, 2]
    xb, yb = batches[0]
    assert xb.dtype == torch.float32 and yb.dtype == torch.int64 and xb.shape == (16, 3)
    order = torch.cat([b[1] for b in batches])
    assert sorted(order.tolist()) == sorted(y.tolist())
    again = torch.cat([b[1] for b in make_loader(X, y, batch_size=16, seed=1)])
    assert torch.equal(order, again)  # same seed, same batches
    second_epoch = torch.cat([b[1] for b in loader])
    assert not torch.equal(order, second_epoch)  # reshuffled each epoch
    fixed = torch.cat([b[0] for b in make_loader(X, y, shuffle=False)])
    np.testing.assert_allclose(fixed.numpy(), X.astype(np.float32))
    _, yr = next(iter(make_loader(X, X[:, :1], batch_size=4)))
    assert yr.dtype == torch.float32 and yr.shape == (4, 1)


def test_make_loader_bad_input():
    with pytest.raises(ValueError, match="one row per example"):
        make_loader(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        make_loader(np.zeros((5, 2)), np.zeros(5), batch_size=0)


# ---------------------------------------------------------------- IDX files

IDX_TYPES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
             np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an array as an IDX file (written independently of the reader)."""
    header = bytes([0, 0, IDX_TYPES[array.dtype.type], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def tiny_mnist(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def write_mnist(folder: Path, gz: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, prefix, n in (("train", "train", 6), ("test", "t10k", 4)):
        images, labels = tiny_mnist(n, seed=n)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
        out[split] = (images, labels)
    return out


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/www that counts requests (works offline)."""
    root = tmp_path / "www"
    root.mkdir()
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args):  # keep test output clean
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root, hits
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("dtype", list(IDX_TYPES))
@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_roundtrip(tmp_path, dtype, gz):
    a = (np.arange(24) - 5).astype(dtype).reshape(2, 3, 4)
    got = load_idx(write_idx(tmp_path / "a.idx", a, gz))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, a)
    got[0, 0, 0] = 1  # writable


def test_load_idx_local_sha256(tmp_path):
    path = write_idx(tmp_path / "labels.gz", np.arange(5, dtype=np.uint8), gz=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    np.testing.assert_array_equal(load_idx(path, sha256=digest.upper()), np.arange(5))
    with pytest.raises(DataError, match=rf"sha256 mismatch for .*labels.gz: expected 0+, got {digest}; "
                                        "the file is damaged"):
        load_idx(path, sha256="0" * 64)


def test_load_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"file not found: .*nope.idx\. Download the file .* and pass its path"):
        load_idx(tmp_path / "nope.idx")


@pytest.mark.parametrize("raw, match", [
    (b"\x08\x03\x00\x00\x00\x01", "not an IDX file: .* starts with bytes 08 03 00 00"),
    (b"", r"not an IDX file: .*\(empty\)"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "not an IDX file"),  # unknown type byte
    (b"\x00\x00\x08\x02\x00\x00\x00\x02", "ends inside its header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02", "has 2 data bytes but its header"),
])
def test_load_idx_malformed(tmp_path, raw, match):
    path = tmp_path / "bad"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=match):
        load_idx(path)


def test_load_idx_broken_gzip(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(100, np.uint8)))[:20])
    with pytest.raises(DataError, match="cannot be decompressed"):
        load_idx(path)


def test_load_idx_url_is_downloaded_once(server, tmp_path):
    base, root, hits = server
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(root / "a-idx2-ubyte.gz", a, gz=True)
    digest = hashlib.sha256((root / "a-idx2-ubyte.gz").read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    url = f"{base}/a-idx2-ubyte.gz"

    np.testing.assert_array_equal(load_idx(url, sha256=digest, cache_dir=cache), a)
    assert hits == ["/a-idx2-ubyte.gz"]
    cached = list(cache.iterdir())
    assert len(cached) == 1 and cached[0].name.endswith("-a-idx2-ubyte.gz")
    np.testing.assert_array_equal(load_idx(url, sha256=digest, cache_dir=cache), a)
    assert len(hits) == 1  # served from the cache

    (root / "a-idx2-ubyte.gz").unlink()  # the source is gone: the cache still serves
    np.testing.assert_array_equal(load_idx(url, cache_dir=cache), a)


def test_load_idx_cache_dir_from_env(server, tmp_path, monkeypatch):
    base, root, hits = server
    write_idx(root / "b.idx", np.ones(3, np.uint8))
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "envcache"))
    assert data.default_cache_dir() == tmp_path / "envcache"
    load_idx(f"{base}/b.idx")
    assert len(list((tmp_path / "envcache").iterdir())) == 1
    monkeypatch.delenv("COURSEKIT_CACHE")
    assert data.default_cache_dir() == Path.home() / ".cache" / "coursekit"


def test_load_idx_download_bad_checksum_leaves_no_file(server, tmp_path):
    base, root, hits = server
    write_idx(root / "c.idx", np.ones(3, np.uint8))
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"sha256 mismatch for http://.*/c.idx: expected f+, got "):
        load_idx(f"{base}/c.idx", sha256="f" * 64, cache_dir=cache)
    assert list(cache.iterdir()) == []  # nothing half-checked is cached


def test_load_idx_cached_file_damaged(server, tmp_path):
    base, root, hits = server
    write_idx(root / "d.idx", np.ones(3, np.uint8))
    digest = hashlib.sha256((root / "d.idx").read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    load_idx(f"{base}/d.idx", sha256=digest, cache_dir=cache)
    cached = next(cache.iterdir())
    cached.write_bytes(b"garbage")
    with pytest.raises(DataError, match=rf"sha256 mismatch for the cached copy .*: expected {digest}, "
                                        rf"got .*; delete the cached file .*{cached.name} and retry"):
        load_idx(f"{base}/d.idx", sha256=digest, cache_dir=cache)


def test_load_idx_http_error(server, tmp_path):
    base, root, hits = server
    with pytest.raises(DataError, match=r"could not download http://.*/missing.idx \(no network\?\): "
                                        r".*download it by hand and pass the local path"):
        load_idx(f"{base}/missing.idx", cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_load_idx_unreachable_url(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/x.idx"
    with pytest.raises(DataError, match=r"could not download .*x.idx \(no network\?\)"):
        load_idx(url, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_folder(tmp_path, gz):
    truth = write_mnist(tmp_path / "mnist", gz=gz)
    for split in ("train", "test"):
        X, y = load_mnist(tmp_path / "mnist", split=split)
        images, labels = truth[split]
        assert X.shape == (len(images), 1, 28, 28) and X.dtype == np.float32
        assert y.dtype == np.int64
        assert 0.0 <= X.min() and X.max() <= 1.0
        np.testing.assert_allclose(X[:, 0] * 255, images, atol=1e-4)
        np.testing.assert_array_equal(y, labels)


def test_load_mnist_from_url(server, tmp_path):
    base, root, hits = server
    truth = write_mnist(root / "fashion")
    X, y = load_mnist(f"{base}/fashion/", kind="fashion", split="test", cache_dir=tmp_path / "c")
    np.testing.assert_array_equal(y, truth["test"][1])
    assert sorted(hits) == ["/fashion/t10k-images-idx3-ubyte.gz", "/fashion/t10k-labels-idx1-ubyte.gz"]
    load_mnist(f"{base}/fashion", kind="fashion", split="test", cache_dir=tmp_path / "c")
    assert len(hits) == 2
    assert len(data.CLASS_NAMES["fashion"]) == 10


def test_load_mnist_errors(tmp_path):
    with pytest.raises(DataError, match=r"file not found: .*train-images-idx3-ubyte.gz .*Download the "
                                        r"four fashion files from .*fashion-mnist"):
        load_mnist(tmp_path, kind="fashion")
    with pytest.raises(ValueError, match="unknown kind"):
        load_mnist(tmp_path, kind="cifar")
    with pytest.raises(ValueError, match="unknown split"):
        load_mnist(tmp_path, split="val")
    images, labels = tiny_mnist(5)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:3])
    with pytest.raises(DataError, match="5 images but labels of shape"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", labels)  # labels where images belong
    with pytest.raises(DataError, match="swap the images and labels"):
        load_mnist(tmp_path)


def test_dataerror_is_one_clear_exception():
    assert issubclass(DataError, Exception) and not issubclass(DataError, ValueError)
