"""The grader's side of the channel: stand-ins for the student's functions, classes and objects.

A test cell runs in the grader's (trusted) process. The names it takes from the student's
notebook arrive either as data (numbers, arrays, lists...) or as proxies:

* :class:`RemoteObject`: a student's function or object. Calling it, reading or setting an
  attribute, and the operators its class defines (``a * b``, ``-a``, ``2 + a``, ``a ** 2``,
  ``len``, iteration...) are forwarded to the student's process; what comes back is again data
  or a proxy. It is never a float, an ndarray or a tensor, so strict type checks refuse it.
* a *proxy class* per student class (a real ``type``): ``Value(2.0)`` constructs in the sandbox,
  ``isinstance(out, Value)`` and ``hasattr(Value, "__radd__")`` answer as for the real class.

Exceptions the student's code raises come back as the builtin exception of the same name
(``NotImplementedError`` stays "not attempted"), or :class:`StudentError`. When the student's
process times out, dies or sends garbage, every further request raises :class:`SandboxBroken`,
a ``BaseException`` so that no ``except Exception`` in a check or test can swallow it.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from coursekit.instructor.sandbox import inplace
from coursekit.instructor.sandbox.protocol import (
    ChannelClosed,
    ChannelTimeout,
    Codec,
    Endpoint,
    ProtocolError,
    RemoteError,
    clip,
)

# Exceptions that keep their type when they cross from the student's process.
_MAPPED = {name: getattr(builtins, name) for name in (
    "ArithmeticError", "AssertionError", "AttributeError", "BlockingIOError", "BufferError",
    "EOFError", "FileNotFoundError", "FloatingPointError", "ImportError", "IndexError", "KeyError",
    "LookupError", "MemoryError", "ModuleNotFoundError", "NameError", "NotImplementedError",
    "OSError", "OverflowError", "PermissionError", "RecursionError", "RuntimeError",
    "StopIteration", "TypeError", "UnboundLocalError", "UnicodeError", "ValueError",
    "ZeroDivisionError")}


class StudentError(Exception):
    """An exception of a type the grader does not recreate (the student's own class, say)."""


class SandboxBroken(BaseException):
    """The student's process can no longer answer: ``reason`` is "timeout", "died" or "protocol"."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Session:
    """Requests to one student process, with the error handling every proxy shares."""

    def __init__(self, fd_in: int, fd_out: int):
        self.codec = TrustedCodec(self)
        self.endpoint = Endpoint(fd_in, fd_out, self.codec, self._serve,
                                 passthrough=(SandboxBroken, KeyboardInterrupt))
        self.broken: SandboxBroken | None = None

    def request(self, op: str, **fields: Any) -> Any:
        if self.broken is not None:
            raise SandboxBroken(self.broken.reason, self.broken.detail)
        try:
            return self.endpoint.request(op, **fields)
        except RemoteError as exc:
            kind = _MAPPED.get(exc.kind)
            if kind is not None:
                raise kind(exc.message) from None
            raise StudentError(f"{exc.kind}: {exc.message}" if exc.message else exc.kind) from None
        except ChannelTimeout:
            self.broken = SandboxBroken("timeout", "the student's code did not finish in time")
        except ChannelClosed:
            self.broken = SandboxBroken("died", "the student's process ended (os._exit, a crash, "
                                                "a kill or a resource limit)")
        except (ProtocolError, RecursionError, MemoryError) as exc:
            self.broken = SandboxBroken("protocol", f"invalid answer from the student's process: "
                                                    f"{clip(exc, 200)}")
        raise SandboxBroken(self.broken.reason, self.broken.detail)

    # -- what the student's process may ask of us: call a function we passed it -----------------
    def _serve(self, message: dict) -> Any:
        if message["op"] != "call":
            raise PermissionError("the grader only runs functions it passed to you")
        fn = self.codec.exported(message.get("ref"))
        args = self.codec.decode(message.get("args", []))
        kwargs = self.codec.decode(message.get("kwargs", {"__dict__": []}))
        if type(args) is not list or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
            raise ProtocolError("bad call arguments")
        return fn(*args, **kwargs)

    # -- helpers used by proxies ---------------------------------------------------------------
    def get(self, name: str) -> Any:
        return self.request("get", name=name)

    def call(self, ref: int, args: tuple, kwargs: dict) -> Any:
        reply = self.request("call", ref=ref, args=self.codec.encode(list(args)),
                             kwargs=self.codec.encode(dict(kwargs)))
        return self._returned(reply, args, kwargs)

    def method(self, ref: int, name: str, args: tuple, kwargs: dict) -> Any:
        reply = self.request("method", ref=ref, name=name, args=self.codec.encode(list(args)),
                             kwargs=self.codec.encode(dict(kwargs)))
        return self._returned(reply, args, kwargs)

    def _returned(self, reply: Any, args: tuple, kwargs: dict) -> Any:
        """A call's value, after mirroring what it wrote into our array arguments."""
        if type(reply) is not dict or set(reply) != {"value", "changed"}:
            self.broken = SandboxBroken("protocol", "invalid answer from the student's process: "
                                                    "a call's reply without its value")
            raise SandboxBroken(self.broken.reason, self.broken.detail)
        inplace.apply_changes(reply["changed"], args, kwargs)
        return reply["value"]


class TrustedCodec(Codec):
    def __init__(self, session: Session):
        super().__init__(remote=self._proxy, by_name=True)
        self.session = session
        self._classes: dict[int, type] = {}

    def encode(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, RemoteClass):
            return {"__home__": value._sandbox_class_ref}
        if isinstance(value, RemoteObject):
            return {"__home__": object.__getattribute__(value, "_sandbox_ref")}
        return super().encode(value, depth)

    def _proxy(self, ref: int, info: dict) -> Any:
        name = clip(info.get("type"), 100) if isinstance(info.get("type"), str) else "object"
        if info.get("kind") == "class":
            return self._proxy_class(ref, name, info.get("operators"))
        cls = info.get("cls")
        proxy_cls = self.decode(cls) if type(cls) is dict and "__ref__" in cls else None
        if not (isinstance(proxy_cls, RemoteClass)):
            proxy_cls = RemoteObject
        obj = object.__new__(proxy_cls)
        object.__setattr__(obj, "_sandbox_session", self.session)
        object.__setattr__(obj, "_sandbox_ref", ref)
        return obj

    def _proxy_class(self, ref: int, name: str, operators: Any) -> type:
        if ref in self._classes:
            return self._classes[ref]
        from coursekit.instructor.sandbox.student_server import OPERATORS

        namespace: dict[str, Any] = {"__slots__": (), "__hash__": RemoteObject.__hash__,
                                     "_sandbox_class_ref": ref, "_sandbox_class_session": self.session,
                                     "__module__": __name__, "__qualname__": name}
        for op in operators if type(operators) is list else []:
            if op in OPERATORS:
                namespace[op] = _forward(op)
        cls = RemoteClass(name if name.isidentifier() else "StudentClass", (RemoteObject,), namespace)
        self._classes[ref] = cls
        return cls


def _forward(name: str) -> Callable:
    def method(self, *args, **kwargs):
        session = object.__getattribute__(self, "_sandbox_session")
        return session.method(object.__getattribute__(self, "_sandbox_ref"), name, args, kwargs)

    method.__name__ = name
    return method


class RemoteClass(type):
    """The type of a proxy class: calling it constructs an instance in the student's process."""

    def __call__(cls, *args, **kwargs):
        return cls._sandbox_class_session.call(cls._sandbox_class_ref, args, kwargs)

    def __getattr__(cls, name: str):
        if name.startswith("__") or name.startswith("_sandbox"):
            raise AttributeError(name)
        return cls._sandbox_class_session.request("getattr", ref=cls._sandbox_class_ref, name=name)

    def __repr__(cls) -> str:
        return f"<class {cls.__qualname__} (student's, in the sandbox)>"


class RemoteObject:
    """A student's object (or function) that stays in the sandbox."""

    __slots__ = ("_sandbox_session", "_sandbox_ref", "__weakref__")

    def __getattr__(self, name: str) -> Any:
        # Dunder lookups (numpy's __array_interface__, copy's __reduce_ex__...) are answered
        # here: the operators a student's class defines are real methods of the proxy class.
        if name.startswith("__") or name.startswith("_sandbox"):
            raise AttributeError(name)
        session = object.__getattribute__(self, "_sandbox_session")
        return session.request("getattr", ref=object.__getattribute__(self, "_sandbox_ref"), name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        session = object.__getattribute__(self, "_sandbox_session")
        session.request("setattr", ref=object.__getattribute__(self, "_sandbox_ref"), name=name,
                        value=session.codec.encode(value))

    def __repr__(self) -> str:
        session = object.__getattribute__(self, "_sandbox_session")
        try:
            return session.request("repr", ref=object.__getattribute__(self, "_sandbox_ref"))
        except Exception:  # noqa: BLE001 - a repr must not fail
            return f"<student's {type(self).__qualname__}>"

    def __deepcopy__(self, memo) -> Any:
        session = object.__getattribute__(self, "_sandbox_session")
        return session.request("deepcopy", ref=object.__getattribute__(self, "_sandbox_ref"))

    def __copy__(self) -> Any:
        return self.__deepcopy__({})

    def __hash__(self) -> int:
        return hash((id(object.__getattribute__(self, "_sandbox_session")),
                     object.__getattribute__(self, "_sandbox_ref")))

    def __reduce_ex__(self, protocol):
        raise TypeError("a student's object cannot be pickled")
