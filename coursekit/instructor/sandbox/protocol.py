"""The data-only channel between the trusted grader and the student's sandboxed process.

One JSON document per line, over a pair of pipes. Never pickle: a message can only carry

    None, bool, int, float (nan and inf included), str, list, tuple, dict, set, bytes, complex,
    slice, NotImplemented, Ellipsis, NumPy arrays and scalars of numeric or bool dtype, and
    PyTorch tensors (sent as arrays, rebuilt as tensors where torch is installed),

and anything else as a *reference*: ``{"__ref__": id}`` names an object that stays in the
process that sent it (a student's function or class, a grader's callback); ``{"__home__": id}``
hands such an object back to the process that owns it. A reference can only be called
through :class:`Endpoint`; it is never turned into code on the other side.

Both sides use the same :class:`Endpoint`: ``request`` sends a request and waits for its reply,
answering the other side's requests meanwhile (a student's function may call back a function
the grader passed it). Sizes are capped: one message at ``MAX_MESSAGE`` bytes, nesting at
``MAX_DEPTH``, every string in an error at ``MAX_ERROR``.
"""

from __future__ import annotations

import base64
import json
import os
import select
import sys
import time
from collections.abc import Callable
from typing import Any

MAX_MESSAGE = 64 * 1024 * 1024  # bytes in one line: the largest array a call can carry
MAX_DEPTH = 64
MAX_ERROR = 2000

_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "complex64", "complex128"}
_TAGS = {"__tuple__", "__dict__", "__set__", "__bytes__", "__complex__", "__slice__", "__const__",
         "__ndarray__", "__ref__", "__home__", "__pyname__"}
# Functions that may be sent by name (so that np.tanh runs inside the sandbox, without a round
# trip per call); only from the grader to the student, never the other way.
_BY_NAME_MODULES = ("numpy", "math")


class ProtocolError(Exception):
    """A message that is not valid for this protocol (too large, unknown type, bad JSON)."""


class ChannelClosed(Exception):
    """The other process closed the channel (it exited or was killed)."""


class ChannelTimeout(Exception):
    """No reply before the deadline."""


class RemoteError(Exception):
    """An exception raised on the other side: ``kind`` is its type name."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def clip(text: Any, limit: int = MAX_ERROR) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 15] + " ...(truncated)"


# --------------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------------
class Codec:
    """Turns values into JSON-ready data and back.

    ``export(obj) -> int`` registers an object that cannot be sent as data and returns its id;
    ``exported(id)`` finds it again; ``remote(id, info)`` builds the local stand-in for an
    object that the other side exported (a proxy on the grader's side, a callback stub on the
    student's side).
    """

    def __init__(self, *, remote: Callable[[int, dict], Any], by_name: bool = False):
        self._objects: dict[int, Any] = {}
        self._ids: dict[int, int] = {}  # id(obj) -> ref, so one object keeps one reference
        self._remote = remote
        self._by_name = by_name

    # -- exported objects ------------------------------------------------------------------
    def export(self, obj: Any) -> int:
        ref = self._ids.get(id(obj))
        if ref is None or self._objects.get(ref) is not obj:
            ref = len(self._objects) + 1
            self._objects[ref] = obj
            self._ids[id(obj)] = ref
        return ref

    def exported(self, ref: Any) -> Any:
        if type(ref) is not int or ref not in self._objects:
            raise ProtocolError(f"unknown reference {clip(ref, 40)}")
        return self._objects[ref]

    # -- encoding ----------------------------------------------------------------------------
    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
        t = type(value)
        if value is None or t in (bool, int, float, str):
            return value
        home = getattr(value, "__sandbox_home__", None) if t.__module__.startswith("coursekit.instructor.sandbox") else None
        if home is not None:
            return {"__home__": home}
        d = depth + 1
        if t is list:
            return [self.encode(v, d) for v in value]
        if t is tuple:
            return {"__tuple__": [self.encode(v, d) for v in value]}
        if t is dict:
            return {"__dict__": [[self.encode(k, d), self.encode(v, d)] for k, v in value.items()]}
        if t in (set, frozenset):
            return {"__set__": [self.encode(v, d) for v in value]}
        if t is bytes:
            return {"__bytes__": base64.b64encode(value).decode("ascii")}
        if t is complex:
            return {"__complex__": [value.real, value.imag]}
        if t is slice:
            return {"__slice__": [self.encode(v, d) for v in (value.start, value.stop, value.step)]}
        if value is NotImplemented or value is Ellipsis:
            return {"__const__": "NotImplemented" if value is NotImplemented else "Ellipsis"}
        array = _as_array(value)
        if array is not None:
            return array
        if self._by_name and _sendable_by_name(value):
            return {"__pyname__": f"{value.__module__ or 'numpy'}.{value.__name__}"}
        return {"__ref__": self.export(value), **self.describe(value)}

    def describe(self, value: Any) -> dict:
        """What the receiver learns about a reference besides its id (overridden by the student)."""
        return {"type": clip(type(value).__name__, 100)}

    # -- decoding ----------------------------------------------------------------------------
    def decode(self, data: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
        t = type(data)
        if data is None or t in (bool, int, float, str):
            return data
        d = depth + 1
        if t is list:
            return [self.decode(v, d) for v in data]
        if t is not dict:
            raise ProtocolError(f"unexpected JSON value of type {t.__name__}")
        tags = [k for k in data if k in _TAGS]
        if len(tags) != 1:
            raise ProtocolError(f"an object without exactly one known tag: {clip(list(data), 80)}")
        tag, body = tags[0], data[tags[0]]
        if tag == "__tuple__":
            return tuple(self.decode(v, d) for v in _list(body))
        if tag == "__dict__":
            out = {}
            for pair in _list(body):
                if type(pair) is not list or len(pair) != 2:
                    raise ProtocolError("a dict item is not a [key, value] pair")
                key = self.decode(pair[0], d)
                try:
                    out[key] = self.decode(pair[1], d)
                except TypeError as exc:  # an unhashable key
                    raise ProtocolError(f"bad dict key: {exc}") from None
            return out
        if tag == "__set__":
            try:
                return set(self.decode(v, d) for v in _list(body))
            except TypeError as exc:
                raise ProtocolError(f"bad set item: {exc}") from None
        if tag == "__bytes__":
            return _b64(body)
        if tag == "__complex__":
            parts = _list(body)
            if len(parts) != 2 or not all(type(p) in (int, float) for p in parts):
                raise ProtocolError("bad complex number")
            return complex(*parts)
        if tag == "__slice__":
            parts = _list(body)
            if len(parts) != 3:
                raise ProtocolError("bad slice")
            return slice(*(self.decode(p, d) for p in parts))
        if tag == "__const__":
            if body == "NotImplemented":
                return NotImplemented
            if body == "Ellipsis":
                return Ellipsis
            raise ProtocolError("unknown constant")
        if tag == "__ndarray__":
            return _from_array(data)
        if tag == "__home__":
            return self.exported(body)
        if tag == "__ref__":
            if type(body) is not int:
                raise ProtocolError("a reference id must be an int")
            return self._remote(body, data)
        if tag == "__pyname__":
            return self.by_name(body)
        raise ProtocolError(f"unknown tag {tag}")  # pragma: no cover - _TAGS is exhaustive

    def by_name(self, name: Any) -> Any:
        raise ProtocolError("functions by name are not accepted here")


def _list(body: Any) -> list:
    if type(body) is not list:
        raise ProtocolError("expected a list")
    return body


def _b64(text: Any) -> bytes:
    if type(text) is not str:
        raise ProtocolError("expected base64 text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise ProtocolError("invalid base64") from None


def _sendable_by_name(value: Any) -> bool:
    module = getattr(value, "__module__", None) or ""
    name = getattr(value, "__name__", None)
    if not isinstance(name, str) or not callable(value):
        return False
    if type(value).__name__ == "ufunc":  # np.tanh.__module__ is 'numpy'
        module = "numpy"
    if module.split(".")[0] not in _BY_NAME_MODULES:
        return False
    root = sys.modules.get(module.split(".")[0])
    return root is not None and getattr(root, name, None) is value


def _as_array(value: Any) -> dict | None:
    """A NumPy array, NumPy scalar or torch tensor as tagged data; None for anything else."""
    np = sys.modules.get("numpy")
    tensor = None
    if np is None:
        return None
    if type(value).__module__.split(".")[0] == "torch" and type(value).__name__ in ("Tensor", "Parameter"):
        tensor = {"requires_grad": bool(value.requires_grad)}
        try:
            value = value.detach().cpu().resolve_conj().resolve_neg().numpy()
        except (RuntimeError, TypeError):  # bfloat16, sparse, meta: not data
            return None
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        scalar = True
        array = np.asarray(value)
    elif type(value) is np.ndarray:
        scalar = False
        array = value
    else:
        return None
    if array.dtype.name not in _DTYPES:
        return None
    if array.nbytes > MAX_MESSAGE // 2:
        raise ProtocolError(f"an array of {array.nbytes} bytes is larger than the channel allows "
                            f"({MAX_MESSAGE // 2} bytes)")
    out = {"__ndarray__": base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii"),
           "dtype": array.dtype.name, "shape": list(array.shape)}
    if scalar:
        out["scalar"] = True
    if tensor is not None:
        out["tensor"] = tensor
    return out


def _from_array(data: dict) -> Any:
    import numpy as np

    dtype, shape = data.get("dtype"), data.get("shape")
    if dtype not in _DTYPES:
        raise ProtocolError(f"array dtype {clip(dtype, 40)} is not allowed")
    if type(shape) is not list or len(shape) > 32 or not all(type(s) is int and s >= 0 for s in shape):
        raise ProtocolError("bad array shape")
    raw = _b64(data["__ndarray__"])
    size = 1
    for s in shape:
        size *= s
    if size * np.dtype(dtype).itemsize != len(raw):
        raise ProtocolError("array shape and data length disagree")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if data.get("scalar") is True:
        if array.ndim != 0:
            raise ProtocolError("a scalar must have shape []")
        return array[()]
    if "tensor" in data:
        try:
            import torch
        except ImportError:  # no torch on this side: the array is the closest thing
            return array
        out = torch.from_numpy(array)
        info = data["tensor"]
        if type(info) is dict and info.get("requires_grad") is True and out.is_floating_point():
            out.requires_grad_(True)
        return out
    return array


# --------------------------------------------------------------------------------------------
# the channel
# --------------------------------------------------------------------------------------------
class Endpoint:
    """One side of the channel: JSON lines in from ``fd_in``, out to ``fd_out``.

    ``handler(message) -> value`` answers the other side's requests (``{"id", "op", ...}``);
    its exceptions go back as errors, except ``passthrough`` ones, which end the wait. ``deadline`` (a ``time.monotonic()`` value or None)
    bounds every wait for a reply.
    """

    def __init__(self, fd_in: int, fd_out: int, codec: Codec,
                 handler: Callable[[dict], Any] | None = None,
                 passthrough: tuple[type[BaseException], ...] = ()):
        self.fd_in, self.fd_out = fd_in, fd_out
        self.passthrough = (ChannelClosed, ChannelTimeout, *passthrough)
        self.codec = codec
        self.handler = handler
        self.deadline: float | None = None
        self._buffer = bytearray()
        self._next_id = 0

    # -- framing ---------------------------------------------------------------------------
    def send(self, message: dict) -> None:
        data = json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"
        if len(data) > MAX_MESSAGE:
            raise ProtocolError(f"message of {len(data)} bytes is over the {MAX_MESSAGE} limit")
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd_out, view)
            except (BrokenPipeError, OSError) as exc:
                raise ChannelClosed(f"cannot write to the other side: {exc}") from None
            view = view[written:]

    def receive(self) -> dict:
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                try:
                    message = json.loads(line)
                except (ValueError, RecursionError) as exc:
                    raise ProtocolError(f"invalid JSON from the other side: {clip(exc, 200)}") from None
                if type(message) is not dict:
                    raise ProtocolError("a message must be a JSON object")
                return message
            if len(self._buffer) > MAX_MESSAGE:
                raise ProtocolError(f"message over the {MAX_MESSAGE} byte limit")
            if self.deadline is not None:
                left = self.deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd_in], [], [], left)[0]:
                    raise ChannelTimeout("no answer before the deadline")
            chunk = os.read(self.fd_in, 1 << 20)
            if not chunk:
                raise ChannelClosed("the other side closed the channel")
            self._buffer += chunk

    # -- requests --------------------------------------------------------------------------
    def request(self, op: str, **fields: Any) -> Any:
        """Send a request; serve the other side's requests until its reply comes; return it
        decoded, or raise :class:`RemoteError`."""
        self._next_id += 1
        rid = self._next_id
        self.send({"id": rid, "op": op, **fields})
        while True:
            message = self.receive()
            if "re" in message:
                if message["re"] != rid:
                    raise ProtocolError("a reply to a request that was not made")
                if "error" in message:
                    err = message["error"]
                    if type(err) is not dict:
                        raise ProtocolError("bad error reply")
                    raise RemoteError(clip(err.get("type", "Error"), 100), clip(err.get("message", "")))
                if "ok" not in message:
                    raise ProtocolError("a reply without a value")
                return self.codec.decode(message["ok"])
            self.serve_one(message)

    def serve_one(self, message: dict) -> None:
        rid = message.get("id")
        if type(rid) is not int or type(message.get("op")) is not str:
            raise ProtocolError("a request needs an integer id and an op")
        if self.handler is None:
            reply = {"re": rid, "error": {"type": "PermissionError", "message": "no requests accepted"}}
        else:
            try:
                reply = {"re": rid, "ok": self.codec.encode(self.handler(message))}
            except self.passthrough:
                raise
            except BaseException as exc:  # noqa: BLE001 - every error goes back as data
                reply = {"re": rid, "error": {"type": clip(type(exc).__name__, 100),
                                              "message": clip(exc)}}
        self.send(reply)

    def serve_forever(self) -> None:
        while True:
            self.serve_one(self.receive())
