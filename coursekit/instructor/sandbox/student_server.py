"""The student's side of a sandboxed grading run: ``python -m coursekit.instructor.sandbox.student_server``.

Runs INSIDE the sandbox, as the unprivileged sandbox user. It reads requests from its stdin and
answers on its stdout (JSON lines, see :mod:`coursekit.instructor.sandbox.protocol`); file descriptors 0, 1
and 2 are then pointed at /dev/null, so nothing the student's code prints (from Python, C or a
subprocess) can reach the channel by accident.

Requests: ``run`` a code cell (in IPython, so magics work; returns its outputs and error),
``get`` a top-level name, ``probe``: run one of coursekit's probes (:mod:`coursekit.checks.probe`)
on the student's objects, ``call`` / ``method`` (answered with the value and the array arguments
the call changed, see :mod:`coursekit.instructor.sandbox.inplace`) / ``getattr`` / ``setattr`` / ``method`` / ``deepcopy`` /
``dir`` on an object it handed out earlier. Everything here is untrusted by design: the student's
code runs in this process and can change any of it; the grader only ever reads data from it.
"""

from __future__ import annotations

import builtins
import copy
import io
import os
import sys
from typing import Any

from coursekit.instructor.sandbox import inplace
from coursekit.instructor.sandbox.protocol import (
    ChannelClosed,
    Codec,
    Endpoint,
    ProtocolError,
    RemoteError,
    clip,
)

MAX_CELL_OUTPUT = 200_000  # characters of text kept per cell; the grader cuts again
OPERATORS = (
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
    "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__", "__rpow__",
    "__matmul__", "__rmatmul__", "__and__", "__rand__", "__or__", "__ror__", "__xor__", "__rxor__",
    "__lshift__", "__rlshift__", "__rshift__", "__rrshift__", "__neg__", "__pos__", "__abs__",
    "__invert__", "__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__", "__float__",
    "__int__", "__index__", "__bool__", "__len__", "__iter__", "__next__", "__getitem__",
    "__setitem__", "__delitem__", "__contains__", "__call__", "__round__", "__array__",
    "__enter__", "__exit__",
)


def operators_of(cls: type) -> list[str]:
    """The operator methods ``cls`` defines beyond ``object``'s defaults."""
    mro = [k for k in getattr(cls, "__mro__", ()) if k is not object]
    return [name for name in OPERATORS
            if any(name in vars(k) and vars(k)[name] is not None for k in mro)]


class GraderFunction:
    """A function the grader passed in (a check's activation, a hidden test's lambda): calling it
    asks the grader to run it on the arguments, as data."""

    def __init__(self, endpoint: Endpoint, ref: int, info: dict):
        self._endpoint, self.__sandbox_home__ = endpoint, ref
        self._type = clip(info.get("type", "function"), 60)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        codec = self._endpoint.codec
        try:
            return self._endpoint.request("call", ref=self.__sandbox_home__,
                                          args=codec.encode(list(args)), kwargs=codec.encode(kwargs))
        except RemoteError as exc:
            kind = getattr(builtins, exc.kind, None)
            if isinstance(kind, type) and issubclass(kind, Exception):
                raise kind(exc.message) from None
            raise RuntimeError(f"{exc.kind}: {exc.message}") from None

    def __deepcopy__(self, memo):
        return self

    def __repr__(self) -> str:
        return f"<function given by the grader ({self._type})>"


class StudentCodec(Codec):
    def __init__(self):
        super().__init__(remote=self._grader_function)
        self.endpoint: Endpoint | None = None

    def _grader_function(self, ref: int, info: dict) -> GraderFunction:
        return GraderFunction(self.endpoint, ref, info)

    def describe(self, value: Any) -> dict:
        info = {"type": clip(type(value).__name__, 100), "callable": callable(value)}
        if isinstance(value, type):
            info["kind"] = "class"
            info["type"] = clip(getattr(value, "__qualname__", "class"), 100)
            info["operators"] = operators_of(value)
        else:
            info["cls"] = self.encode(type(value))
        return info

    def by_name(self, name: Any) -> Any:
        if type(name) is not str or name.count(".") != 1:
            raise ProtocolError("bad function name")
        module, attr = name.split(".")
        if module not in ("numpy", "math"):
            raise ProtocolError("functions by name come from numpy or math only")
        return getattr(__import__(module), attr)


class _Stream(io.TextIOBase):
    """sys.stdout / sys.stderr while a cell runs: text becomes stream outputs (capped)."""

    def __init__(self, server: StudentServer, name: str):
        self.server, self.name = server, name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.server.stream(self.name, str(text))
        return len(text)

    def flush(self) -> None:
        pass


def _make_shell(server: StudentServer):
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Type
    from traitlets.config import Config

    class Hook(DisplayHook):
        def start_displayhook(self):
            pass

        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            server.rich("execute_result", format_dict)

        def finish_displayhook(self):
            pass

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, *args, **kwargs):
            server.rich("display_data", data)

        def clear_output(self, wait=False):
            server.outputs.clear()

    class Shell(InteractiveShell):
        displayhook_class = Type(Hook)
        display_pub_class = Type(Publisher)

        def _showtraceback(self, etype, evalue, stb):
            server.error = {"ename": etype.__name__ if isinstance(etype, type) else str(etype),
                            "evalue": clip(evalue), "traceback": [clip(line) for line in stb[-40:]]}

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.autocall = 0
    return Shell.instance(config=config)


class StudentServer:
    def __init__(self, fd_in: int, fd_out: int):
        self.codec = StudentCodec()
        self.endpoint = Endpoint(fd_in, fd_out, self.codec, self.handle)
        self.codec.endpoint = self.endpoint
        self.shell = None
        self.outputs: list[dict] = []
        self.error: dict | None = None
        self._chars = 0
        self._null = io.StringIO()

    # -- outputs -----------------------------------------------------------------------------
    def stream(self, name: str, text: str) -> None:
        if self._chars >= MAX_CELL_OUTPUT:
            return
        text = text[: MAX_CELL_OUTPUT - self._chars]
        self._chars += len(text)
        if self.outputs and self.outputs[-1].get("name") == name:
            self.outputs[-1]["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def rich(self, kind: str, data: dict) -> None:
        kept = {k: v for k, v in data.items() if isinstance(v, str)
                and k in ("text/plain", "image/png", "image/jpeg", "image/gif")}
        self._chars += sum(len(v) for v in kept.values()) // 10
        if kept and self._chars < MAX_CELL_OUTPUT:
            self.outputs.append({"output_type": kind, "data": kept})

    # -- requests ----------------------------------------------------------------------------
    def handle(self, message: dict) -> Any:
        op = message["op"]
        decode = self.codec.decode
        if op == "ping":
            return {"python": sys.version.split()[0], "uid": os.getuid()}
        if op == "run":
            return self.run(message.get("source"))
        if op == "get":
            name = message.get("name")
            ns = self._shell().user_ns
            if type(name) is not str or name not in ns:
                raise NameError(f"name {clip(name, 80)!r} is not defined")
            return ns[name]
        if op == "probe":  # coursekit's own code, run next to the student's objects
            from coursekit.checks.probe import resolve

            probe = resolve(message.get("name"))
            args, kwargs = decode(message.get("args", [])), self._kwargs(message)
            if type(args) is not list:
                raise ProtocolError("arguments must be a list")
            with self._quiet():
                return probe(*args, **kwargs)
        obj = self.codec.exported(message.get("ref"))
        if op in ("call", "method"):
            args, kwargs = decode(message.get("args", [])), self._kwargs(message)
            if type(args) is not list:
                raise ProtocolError("arguments must be a list")
            before = inplace.snapshot(args, kwargs)
            with self._quiet():
                if op == "call":
                    value = obj(*args, **kwargs)
                else:
                    name = self._name(message)
                    if name.startswith("__") and not isinstance(obj, type):
                        value = getattr(type(obj), name)(obj, *args, **kwargs)
                    else:
                        value = getattr(obj, name)(*args, **kwargs)
            return {"value": value, "changed": inplace.changed_arrays(before)}
        if op == "getattr":
            with self._quiet():
                return getattr(obj, self._name(message))
        if op == "setattr":
            with self._quiet():
                setattr(obj, self._name(message), decode(message.get("value")))
            return None
        if op == "deepcopy":
            with self._quiet():
                return copy.deepcopy(obj)
        if op == "repr":
            with self._quiet():
                return clip(repr(obj), 500)
        raise ProtocolError(f"unknown request {clip(op, 40)!r}")

    def _kwargs(self, message: dict) -> dict:
        kwargs = self.codec.decode(message.get("kwargs", {"__dict__": []}))
        if type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
            raise ProtocolError("keyword arguments must be a dict with str keys")
        return kwargs

    @staticmethod
    def _name(message: dict) -> str:
        name = message.get("name")
        if type(name) is not str:
            raise ProtocolError("an attribute name must be a string")
        return name

    def _quiet(self):
        """While the grader calls the student's code, its prints go nowhere (they would show
        hidden test inputs in the feedback)."""
        import contextlib

        stack = contextlib.ExitStack()
        stack.enter_context(contextlib.redirect_stdout(self._null))
        stack.enter_context(contextlib.redirect_stderr(self._null))
        self._null.seek(0)
        self._null.truncate()
        return stack

    def _shell(self):
        if self.shell is None:
            self.shell = _make_shell(self)
        return self.shell

    def run(self, source: Any) -> dict:
        if type(source) is not str:
            raise ProtocolError("a cell's source must be a string")
        shell = self._shell()
        self.outputs, self.error, self._chars = [], None, 0
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Stream(self, "stdout"), _Stream(self, "stderr")
        try:
            shell.run_cell(source, store_history=False)
        finally:
            sys.stdout, sys.stderr = saved
        return {"outputs": self.outputs, "error": self.error}


def main() -> None:
    # The channel moves off fds 0 and 1; those (and 2) then lead nowhere.
    fd_in, fd_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    server = StudentServer(fd_in, fd_out)
    try:
        server.endpoint.serve_forever()
    except ChannelClosed:
        pass
    os._exit(0)  # no atexit handlers of the student's making


if __name__ == "__main__":
    main()
