"""The sandbox's data-only channel and the grader's proxies, without the sandbox itself.

The student's side runs as a plain subprocess here (``python -m coursekit.instructor.sandbox.student_server``)
so that these tests are quick and run anywhere; tests/test_sandbox.py grades real hostile
submissions in the real sandbox.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from coursekit.checks import NotAttempted
from coursekit.instructor.sandbox import protocol
from coursekit.instructor.sandbox.protocol import Codec, Endpoint, ProtocolError
from coursekit.instructor.sandbox.proxy import RemoteObject, SandboxBroken, Session, StudentError


def _codec() -> Codec:
    return Codec(remote=lambda ref, info: ("remote", ref, info.get("type")))


def _roundtrip(value):
    codec = _codec()
    wire = json.loads(json.dumps(codec.encode(value)))
    return codec.decode(wire)


# -- codec ------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**70, 1.5, "héllo\n", [], [1, [2, [3]]], (1, "a", None),
    {"a": 1, 2: [3.0]}, {1, 2, 3}, b"\x00\xff", 1 + 2j, slice(1, None, 2),
])
def test_plain_values_round_trip(value):
    assert _roundtrip(value) == value
    assert type(_roundtrip(value)) is type(value)


def test_nan_and_inf_round_trip():
    out = _roundtrip([math.nan, math.inf, -math.inf])
    assert math.isnan(out[0]) and out[1] == math.inf and out[2] == -math.inf


def test_constants_round_trip():
    assert _roundtrip(NotImplemented) is NotImplemented
    assert _roundtrip(Ellipsis) is Ellipsis


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int8", "uint8", "bool", "complex128"])
def test_arrays_keep_dtype_shape_and_values(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 3).astype(dtype)
    b = _roundtrip(a)
    assert type(b) is np.ndarray and b.dtype == a.dtype and b.shape == a.shape
    assert np.array_equal(a, b)
    assert b.flags.writeable


def test_numpy_scalars_stay_numpy_scalars():
    for v in (np.float64(1.25), np.int32(-3), np.bool_(True), np.float32(0.5)):
        out = _roundtrip(v)
        assert type(out) is type(v) and out == v


def test_tensors_cross_as_tensors():
    t = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    out = _roundtrip(t)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64 and torch.equal(out, t)


def test_anything_else_becomes_a_reference_never_data():
    codec = _codec()

    class Secret:
        pass

    for value in (Secret(), lambda: 1, np.array([object()]), print):
        wire = codec.encode(value)
        assert set(wire) >= {"__ref__", "type"}
        assert codec.exported(wire["__ref__"]) is value
    s = Secret()
    assert codec.encode(s)["__ref__"] == codec.encode(s)["__ref__"]  # one object, one reference


def test_a_reference_coming_home_is_the_original_object():
    codec = _codec()
    obj = object()
    ref = codec.encode(obj)["__ref__"]
    assert codec.decode({"__home__": ref}) is obj
    with pytest.raises(ProtocolError, match="unknown reference"):
        codec.decode({"__home__": 999})


@pytest.mark.parametrize("wire", [
    {"__pickle__": "gASV"},                                  # unknown tag
    {"__tuple__": [1], "__set__": [2]},                       # two tags
    {"a": 1},                                                 # a bare object
    {"__ndarray__": "AAAA", "dtype": "object", "shape": [1]},  # object arrays are not data
    {"__ndarray__": "AAAAAAAAAAA=", "dtype": "float64", "shape": [5]},  # size mismatch
    {"__ndarray__": "not base64!", "dtype": "uint8", "shape": [1]},
    {"__bytes__": 12},
    {"__pyname__": "os.system"},                              # functions by name: never accepted here
    {"__complex__": ["1", 2]},
])
def test_malformed_or_forbidden_values_are_refused(wire):
    with pytest.raises(ProtocolError):
        _codec().decode(wire)


def test_the_student_side_accepts_only_numpy_and_math_functions_by_name():
    from coursekit.instructor.sandbox.student_server import StudentCodec

    codec = StudentCodec()
    assert codec.decode({"__pyname__": "numpy.tanh"}) is np.tanh
    for name in ("os.system", "builtins.eval", "numpy", "subprocess.run"):
        with pytest.raises(ProtocolError):
            codec.decode({"__pyname__": name})


def test_numpy_functions_are_sent_by_name_only_by_the_grader():
    assert Codec(remote=None, by_name=True).encode(np.tanh) == {"__pyname__": "numpy.tanh"}
    assert "__ref__" in Codec(remote=None).encode(np.tanh)


def test_nesting_is_capped():
    deep: list = []
    for _ in range(protocol.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ProtocolError, match="nested"):
        _codec().encode(deep)
    wire = json.loads(json.dumps(deep))
    with pytest.raises(ProtocolError, match="nested"):
        _codec().decode(wire)


def test_array_and_message_sizes_are_capped(monkeypatch):
    monkeypatch.setattr(protocol, "MAX_MESSAGE", 1000)
    with pytest.raises(ProtocolError, match="larger than the channel"):
        _codec().encode(np.zeros(1000))
    r, w = os.pipe()
    end = Endpoint(r, w, _codec())
    with pytest.raises(ProtocolError, match="limit"):
        end.send({"id": 1, "op": "x", "data": "a" * 2000})
    os.write(w, b'{"x": "' + b"a" * 3000)  # no newline: a reader must not wait forever
    with pytest.raises(ProtocolError, match="limit"):
        end.receive()
    os.close(r)
    os.close(w)


def test_invalid_json_is_a_protocol_error():
    r, w = os.pipe()
    end = Endpoint(r, w, _codec())
    os.write(w, b"{not json}\n")
    with pytest.raises(ProtocolError, match="invalid JSON"):
        end.receive()
    os.write(w, b"[1, 2]\n")
    with pytest.raises(ProtocolError, match="JSON object"):
        end.receive()


# -- proxies against a real student server (unsandboxed here) ---------------------------------
@pytest.fixture
def student():
    proc = subprocess.Popen([sys.executable, "-m", "coursekit.instructor.sandbox.student_server"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    session = Session(proc.stdout.fileno(), proc.stdin.fileno())
    session.endpoint.deadline = time.monotonic() + 60

    def run(source: str) -> dict:
        result = session.request("run", source=source)
        assert result["error"] is None, result["error"]
        return result

    session.run = run
    yield session
    proc.kill()
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()


def test_functions_are_called_with_data_and_callbacks(student):
    student.run("import numpy as np\n"
                "def dense(X, W, b, act):\n    return act(X @ W + b)\n"
                "def stub(x):\n    raise NotImplementedError()\n"
                "class Oops(Exception):\n    pass\n"
                "def oops():\n    raise Oops('my own error')\n"
                "def div(x):\n    return 1 / x\n")
    dense = student.get("dense")
    X, W, b = np.ones((2, 3)), np.ones((3, 4)), np.arange(4.0)
    assert np.allclose(dense(X, W, b, np.tanh), np.tanh(X @ W + b))          # by name
    assert np.allclose(dense(X, W, b, lambda z: 2 * z), 2 * (X @ W + b))    # a callback
    assert isinstance(dense, RemoteObject) and callable(dense)
    with pytest.raises(NotImplementedError):
        student.get("stub")(1)
    with pytest.raises(ZeroDivisionError):
        student.get("div")(0)
    with pytest.raises(StudentError, match="Oops: my own error"):
        student.get("oops")()
    with pytest.raises(NameError):
        student.get("not_defined_anywhere")


def test_a_stub_reads_as_not_attempted_in_a_public_check(student, monkeypatch):
    from coursekit.checks.core import GRADING_ENV
    from coursekit.checks.neurons import check_weighted_sum

    monkeypatch.setenv(GRADING_ENV, "1")  # as the grader does: a stub fails the cell
    student.run("def weighted_sum(x, w, b):\n    raise NotImplementedError()\n")
    with pytest.raises(NotAttempted):
        check_weighted_sum(student.get("weighted_sum"))
    student.run("import numpy as np\ndef weighted_sum(x, w, b):\n    return float(np.dot(w, x) + b)\n")
    check_weighted_sum(student.get("weighted_sum"))


def test_rigged_objects_are_proxies_not_numbers(student):
    student.run("class AlwaysEqual(float):\n"
                "    def __eq__(self, other):\n        return True\n"
                "x = AlwaysEqual(0.0)\n")
    x = student.get("x")
    assert isinstance(x, RemoteObject) and not isinstance(x, float)
    assert (x == 5.5) is True  # its own __eq__ answers, but no strict check accepts it
    from coursekit.checks import CheckFailed
    from coursekit.checks.neurons import check_weighted_sum

    student.run("import numpy as np\n"
                "def weighted_sum(x, w, b):\n    return AlwaysEqual(np.dot(x, w) + b)\n")
    with pytest.raises(CheckFailed, match="not an object of type AlwaysEqual"):
        check_weighted_sum(student.get("weighted_sum"))


def test_a_students_value_class_works_through_proxies(student):
    from test_checks_backprop import Value  # tests/ is on sys.path under pytest

    from coursekit.checks.backprop import check_value

    student.run("import math\n" + inspect.getsource(Value))
    V = student.get("Value")
    assert isinstance(V, type)
    a, b = V(2.0), V(-3.0)
    c = a * b + 2 + a ** 2
    assert isinstance(c, V) and c.data == pytest.approx(0.0)
    (-a).backward()
    assert a.grad == pytest.approx(-1.0)
    assert (3 * a).data == 6.0 and (2 + a).data == 4.0
    check_value(V)  # the public check, run here, on the student's class in the other process


def test_a_call_past_the_deadline_breaks_the_session(student):
    student.run("import time\ndef slow():\n    time.sleep(30)\n")
    slow = student.get("slow")
    student.endpoint.deadline = time.monotonic() + 0.5
    with pytest.raises(SandboxBroken) as info:
        slow()
    assert info.value.reason == "timeout"
    with pytest.raises(SandboxBroken):  # every later request fails at once
        student.get("slow")


def test_a_student_process_that_exits_breaks_the_session(student):
    student.run("import os\ndef leave():\n    os._exit(3)\n")
    with pytest.raises(SandboxBroken) as info:
        student.get("leave")()
    assert info.value.reason == "died"


def test_a_forged_reply_is_a_protocol_error(student):
    student.run("import os\ndef forge():\n"
                "    os.write(1, b'not json\\n')\n"  # fd 1 is /dev/null: nothing happens
                "    return 42\n")
    assert student.get("forge")() == 42
    student.run("import os, gc\ndef forge2():\n"
                "    for fd in range(3, 20):\n"
                "        try:\n            os.write(fd, b'{\"re\": 999, \"ok\": 1}\\n')\n"
                "        except OSError:\n            pass\n    return 1\n")
    with pytest.raises(SandboxBroken) as info:
        student.get("forge2")()
    assert info.value.reason == "protocol"


def test_in_place_writes_to_array_arguments_come_back(student):
    student.run("import numpy as np\n"
                "def bump(x, grads, scale=None):\n"
                "    x += 1\n"
                "    grads[1][0] = -5.0\n"
                "    scale['w'] *= 2\n"
                "    return 'done'\n"
                "def rebind(x):\n    x = x * 0\n    return float(x.sum())\n")
    x, grads, scale = np.zeros(3), [np.ones(2), np.ones(2)], {"w": np.full(2, 3.0)}
    untouched = np.ones(2)
    assert student.get("bump")(x, [untouched, grads[1]], scale=scale) == "done"
    assert np.array_equal(x, [1.0, 1.0, 1.0])          # top-level argument
    assert np.array_equal(grads[1], [-5.0, 1.0])        # inside a list
    assert np.array_equal(untouched, [1.0, 1.0])        # not written: not changed
    assert np.array_equal(scale["w"], [6.0, 6.0])        # keyword argument, inside a dict
    y = np.ones(4)
    assert student.get("rebind")(y) == 0.0 and np.array_equal(y, np.ones(4))  # a new array: no effect


@pytest.mark.parametrize("source, check, hint", [
    ("import numpy as np\n"
     "def numerical_gradient(f, x, eps=1e-5):\n"
     "    g = np.zeros_like(x, dtype=float)\n"
     "    for i in np.ndindex(x.shape):\n"
     "        x[i] += eps; fp = f(x)\n"
     "        x[i] -= 2 * eps; fm = f(x)\n"
     "        g[i] = (fp - fm) / (2 * eps)\n"  # never restores x[i]
     "    return g\n", "check_numerical_gradient", "restore each element"),
    ("import numpy as np\n"
     "def sigmoid(x):\n"
     "    x *= -1\n    np.exp(x, out=x)\n    x += 1\n    return np.reciprocal(x, out=x)\n",
     "check_sigmoid", "in-place update"),
])
def test_checks_see_in_place_mistakes_made_in_the_other_process(student, source, check, hint):
    from coursekit.checks import CheckFailed, activations, backprop

    student.run(source)
    module = backprop if hasattr(backprop, check) else activations
    with pytest.raises(CheckFailed, match=hint):
        getattr(module, check)(student.get(check.removeprefix("check_")))


def test_a_call_reply_without_its_value_is_a_protocol_error(student):
    # The student's code replaces its server's handler to answer calls with a bare value.
    student.run("import gc\n"
                "server = next(o for o in gc.get_objects() if type(o).__name__ == 'StudentServer')\n"
                "honest = server.endpoint.handler\n"
                "def forged(message):\n"
                "    out = honest(message)\n"
                "    return out['value'] if message['op'] in ('call', 'method') else out\n"
                "server.endpoint.handler = forged\n"
                "def f():\n    return 1\n")
    with pytest.raises(SandboxBroken) as info:
        student.get("f")()
    assert info.value.reason == "protocol"
