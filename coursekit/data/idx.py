"""Read MNIST-format IDX files from a local path or a URL (with a download cache).

The IDX format (used by MNIST and Fashion-MNIST): two zero bytes, a type byte, the
number of dimensions D, then D big-endian uint32 sizes, then the values, big-endian,
row-major. Files are usually gzipped; gzip is recognised from its content, not its name.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

CACHE_ENV = "COURSEKIT_CACHE"

# IDX type byte -> NumPy dtype (big-endian, as stored)
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# Where each dataset can be downloaded by hand (named in error messages only).
DOWNLOAD_PAGES = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/ (or any MNIST mirror)",
    "fashion": "https://github.com/zalandoresearch/fashion-mnist (data/fashion/)",
}

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}


class DataError(Exception):
    """A dataset could not be found, fetched or read; the message says how to fix it."""


def default_cache_dir() -> Path:
    """``$COURSEKIT_CACHE`` if set, else ``~/.cache/coursekit``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "coursekit"


def _is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.split("://", 1)[0].lower() in ("http", "https", "file")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _cached_path(url: str, cache_dir: Path) -> Path:
    # The URL's hash keeps same-named files from different sites apart (MNIST and
    # Fashion-MNIST use identical file names); the base name keeps it readable.
    name = url.rstrip("/").rsplit("/", 1)[-1] or "download"
    return cache_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:12]}-{name}"


def _download(url: str, target: Path, sha256: str | None) -> None:
    """Download to a temporary file next to ``target``, check it, then rename it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    while block := response.read(1 << 20):
                        out.write(block)
            except (urllib.error.URLError, OSError, ValueError) as err:
                reason = getattr(err, "reason", err)
                raise DataError(
                    f"could not download {url} (no network?): {reason}; "
                    "download it by hand and pass the local path instead"
                ) from None
        if sha256 is not None:
            got = _sha256(Path(tmp))
            if got != sha256.lower():
                raise DataError(
                    f"sha256 mismatch for {url}: expected {sha256.lower()}, got {got}; "
                    "the URL serves a different or damaged file: check the URL and the "
                    "expected checksum"
                )
        os.replace(tmp, target)  # atomic: a half-written file is never seen as cached
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _local_file(source: str | Path, sha256: str | None, cache_dir: Path | None) -> Path:
    """The path of a readable, verified file for ``source`` (downloading a URL once)."""
    if _is_url(source):
        url = str(source)
        path = _cached_path(url, Path(cache_dir) if cache_dir else default_cache_dir())
        if not path.exists():
            _download(url, path, sha256)
            return path
        where = f"the cached copy {path} of {url}"
        fix = f"delete the cached file {path} and retry"
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise DataError(
                f"file not found: {path}. Download the file (MNIST: {DOWNLOAD_PAGES['mnist']}; "
                f"Fashion-MNIST: {DOWNLOAD_PAGES['fashion']}) and pass its path"
            )
        where = str(path)
        fix = "the file is damaged or not the one meant: download it again"
    if sha256 is not None:
        got = _sha256(path)
        if got != sha256.lower():
            raise DataError(f"sha256 mismatch for {where}: expected {sha256.lower()}, "
                            f"got {got}; {fix}")
    return path


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the (already decompressed) bytes of an IDX file into an array.

    Returns:
        An array of the stored shape, in native byte order (uint8 for image files).

    Raises:
        DataError: the bytes are not a well-formed IDX file.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(
            f"not an IDX file: {name} starts with bytes {raw[:4].hex(' ') or '(empty)'}, "
            "expected 00 00 <type> <ndim>; pass an MNIST-format file such as "
            "train-images-idx3-ubyte(.gz)"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"truncated IDX file: {name} ends inside its header; download it again")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"IDX file {name} has {len(raw) - header} data bytes but its header "
            f"{dims} promises {expected}; the file is truncated or damaged: download it again"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))  # native order, and a writable copy


def load_idx(
    source: str | Path, *, sha256: str | None = None, cache_dir: Path | None = None
) -> np.ndarray:
    """Load an IDX file (gzipped or not) from a local path or an http(s)/file URL.

    Args:
        source: a local path, or a URL. A URL is downloaded once into the cache (a
            temporary file renamed into place when complete) and read from there after.
        sha256: expected SHA-256 hex digest of the file as stored (i.e. of the ``.gz``
            for gzipped files); checked on every load when given.
        cache_dir: where downloads go; default ``$COURSEKIT_CACHE`` or ``~/.cache/coursekit``.

    Returns:
        The stored array, e.g. (N, 28, 28) uint8 images or (N,) uint8 labels.

    Raises:
        DataError: missing file, failed download, checksum mismatch, or not an IDX file;
            the message says what to do.
    """
    path = _local_file(source, sha256, cache_dir)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic number
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"{path} looks gzipped but cannot be decompressed ({err}); "
                            "the file is damaged: download it again") from None
    return parse_idx(raw, str(source))


def _find(root: str, stem: str, kind: str) -> str:
    """The URL ``root/stem.gz``, or the file in folder ``root`` for ``stem`` (gzipped or not)."""
    if _is_url(root):
        return f"{root.rstrip('/')}/{stem}.gz"
    folder = Path(root).expanduser()
    # Some mirrors write "train-images.idx3-ubyte" (a dot instead of a dash).
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz",
                 stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return str(folder / name)
    raise DataError(
        f"file not found: {folder / (stem + '.gz')} (nor unzipped). Download the four "
        f"{kind} files from {DOWNLOAD_PAGES[kind]} into {folder} and pass that folder"
    )


def load_mnist(
    root_or_base_url: str | Path,
    kind: str = "mnist",
    split: str = "train",
    *,
    cache_dir: Path | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST or Fashion-MNIST from a folder of IDX files or from a base URL.

    Nothing is downloaded unless you pass a URL: the course runs offline by default.

    Args:
        root_or_base_url: a folder holding ``train-images-idx3-ubyte.gz``,
            ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
            ``t10k-labels-idx1-ubyte.gz`` (gzipped or not), or the URL of a folder
            serving the ``.gz`` files.
        kind: ``"mnist"`` or ``"fashion"`` (same format; sets the names in
            ``CLASS_NAMES`` and in error messages).
        split: ``"train"`` (60,000 images in the originals) or ``"test"`` (10,000).
        cache_dir: download cache for URLs, as in ``load_idx``.

    Returns:
        X: (N, 1, 28, 28) float32 images in [0, 1].
        y: (N,) int64 labels 0..9 (names in ``CLASS_NAMES[kind]``).

    Raises:
        ValueError: unknown ``kind`` or ``split``.
        DataError: files missing, unreadable, or not a matching images/labels pair.
    """
    if kind not in CLASS_NAMES:
        raise ValueError(f"unknown kind {kind!r}; choose one of {sorted(CLASS_NAMES)}")
    if split not in MNIST_FILES:
        raise ValueError(f"unknown split {split!r}; choose one of {sorted(MNIST_FILES)}")
    root = str(root_or_base_url)
    image_stem, label_stem = MNIST_FILES[split]
    images = load_idx(_find(root, image_stem, kind), cache_dir=cache_dir)
    labels = load_idx(_find(root, label_stem, kind), cache_dir=cache_dir)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{image_stem}: expected (N, H, W) uint8 images, got {images.shape} "
                        f"{images.dtype}; did you swap the images and labels files?")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{len(images)} images but labels of shape {labels.shape}; "
                        "the images and labels files do not belong together")
    X = (images.astype(np.float32) / 255.0)[:, None, :, :]  # (N, 1, H, W)
    return X, labels.astype(np.int64)
