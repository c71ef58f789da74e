"""Start the student's process in a bubblewrap sandbox, watch it, and end it.

The sandbox (see docs/sandbox.md for what it guarantees and what it does not):

* namespaces: no network (only its own loopback), its own PIDs, IPC and hostname;
* filesystem: read-only binds of the system (/usr), the Python installation, the virtual
  environment and the ``coursekit`` package only; a private tmpfs ``/tmp`` (the working folder,
  size-capped); fresh ``/proc`` and ``/dev``. Nothing else of the course is there: no
  ``solutions/``, no gradebook, no other submission, no hidden test;
* user: as root, the process runs as the system user ``coursekit-sandbox`` (created by
  ``tools/setup-sandbox.sh``) with no capabilities and ``no_new_privs``; as any other user, in an
  unprivileged user namespace as that user;
* a clean environment (nothing inherited) and hard limits (``prlimit``): CPU seconds, address
  space, processes, file size, open files.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from coursekit.checks.core import GRADING_ENV
from coursekit.instructor.sandbox.proxy import Session

SANDBOX_USER = os.environ.get("COURSEKIT_SANDBOX_USER", "coursekit-sandbox")
SETUP_HINT = "run `sudo bash tools/setup-sandbox.sh`, or grade with --no-sandbox"
START_TIMEOUT_S = 60
SANDBOX_TMP = "/tmp"  # inside the sandbox: a private tmpfs, the only writable place (and HOME)


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run on this host; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 1800                  # CPU seconds of one student process
    memory_bytes: int = 4 * 1024**3    # address space
    processes: int = 64                # tasks (processes and threads) of the sandbox user
    file_bytes: int = 64 * 1024**2     # largest file it may write
    open_files: int = 1024
    tmp_bytes: int = 256 * 1024**2     # size of its private /tmp


def _prefixes() -> list[Path]:
    """Folders Python needs: the virtual environment and the installation it was made from."""
    found = []
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              os.path.dirname(os.path.realpath(sys.executable))):
        path = Path(p).resolve()
        if path.name == "bin":
            path = path.parent
        if not str(path).startswith("/usr") and path not in found and path.is_dir():
            found.append(path)
    return found


def _coursekit_binds() -> list[Path]:
    """The coursekit package (public checks and helpers only), and the checkout's public imgs/
    and pyproject.toml that ``show_figure`` looks for. Never the checkout itself."""
    import coursekit

    package = Path(coursekit.__file__).resolve().parent
    binds = [package]
    checkout = package.parent
    for public in ("imgs", "pyproject.toml"):
        if (checkout / public).exists() and (checkout / "pyproject.toml").is_file():
            binds.append(checkout / public)
    return binds


def _parents(paths: list[Path]) -> list[str]:
    """Every folder above a bind that bwrap would otherwise create with mode 0700."""
    out: list[str] = []
    for path in paths:
        for parent in reversed(path.parents):
            s = str(parent)
            if s != "/" and s not in out and not s.startswith("/usr"):
                out.append(s)
    return out


def sandbox_user() -> tuple[int, int] | None:
    try:
        entry = pwd.getpwnam(SANDBOX_USER)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def command(limits: Limits) -> list[str]:
    """The full command line that starts ``student_server`` in the sandbox."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"sandbox unavailable: bubblewrap (bwrap) is not installed; {SETUP_HINT}")
    as_root = os.geteuid() == 0
    cmd = [bwrap, "--die-with-parent", "--new-session", "--clearenv"]
    if as_root:
        ids = sandbox_user()
        if ids is None:
            raise SandboxUnavailable(f"sandbox unavailable: no user {SANDBOX_USER!r}; {SETUP_HINT}")
        if ids[0] == 0:
            raise SandboxUnavailable(f"sandbox unavailable: {SANDBOX_USER!r} is uid 0")
        # Real root needs no user namespace: the student's process gets a real, unprivileged uid
        # (so the process limit counts only its own processes).
        cmd += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try"]
    else:
        cmd += ["--unshare-all"]
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": SANDBOX_TMP, "TMPDIR": SANDBOX_TMP,
           "LANG": "C.UTF-8", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "MPLCONFIGDIR": f"{SANDBOX_TMP}/.matplotlib", "IPYTHONDIR": f"{SANDBOX_TMP}/.ipython",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           GRADING_ENV: "1"}
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += ["--hostname", "sandbox", "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = os.readlink(f"/{link}") if os.path.islink(f"/{link}") else None
        if target:
            cmd += ["--symlink", target, f"/{link}"]
        elif os.path.isdir(f"/{link}"):
            cmd += ["--ro-bind", f"/{link}", f"/{link}"]
    for etc in ("/etc/ld.so.cache", "/etc/localtime"):
        cmd += ["--ro-bind-try", etc, etc]
    cmd += ["--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", SANDBOX_TMP,
            "--perms", "1777", "--size", str(16 * 1024**2), "--tmpfs", "/dev/shm"]
    binds = _prefixes() + _coursekit_binds()
    for parent in _parents(binds):
        cmd += ["--perms", "0755", "--dir", parent]
    for path in binds:
        cmd += ["--ro-bind", str(path), str(path)]
    cmd += ["--chdir", SANDBOX_TMP]
    if as_root:
        uid, gid = sandbox_user()  # type: ignore[misc]
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    cmd += ["--", "/usr/bin/prlimit", f"--cpu={limits.cpu_s}", f"--as={limits.memory_bytes}",
            f"--nproc={limits.processes}", f"--fsize={limits.file_bytes}",
            f"--nofile={limits.open_files}", "--core=0", "--",
            sys.executable, "-I", "-m", "coursekit.instructor.sandbox.student_server"]
    return cmd


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _in_namespace(namespace: str) -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and _pid_namespace(int(e)) == namespace]


class Sandbox:
    """One student process in its sandbox, and the :class:`Session` that talks to it."""

    def __init__(self, limits: Limits | None = None):
        self.limits = limits or Limits()
        self.proc: subprocess.Popen | None = None
        self.session: Session | None = None
        self._baseline = 0
        self._pidns: str | None = None

    def start(self) -> None:
        cmd = command(self.limits)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env={}, close_fds=True,
                                     start_new_session=True)
        self.session = Session(self.proc.stdout.fileno(), self.proc.stdin.fileno())
        self.session.endpoint.deadline = time.monotonic() + START_TIMEOUT_S
        try:
            self.session.request("ping")
        except KeyboardInterrupt:  # Ctrl-C while it starts: the run stops, it is no setup problem
            self.kill()
            raise
        except BaseException as exc:
            self.kill()
            err = self.proc.stderr.read(4000).decode(errors="replace").strip() if self.proc.stderr else ""
            raise SandboxUnavailable(f"sandbox unavailable: the sandboxed Python did not start "
                                     f"({err or exc}); {SETUP_HINT}") from None
        self.proc.stderr.close()  # the student's process has pointed its fd 2 at /dev/null
        inside = self.descendants()
        self._baseline = len(inside)
        mine = _pid_namespace(os.getpid())
        self._pidns = next((ns for ns in map(_pid_namespace, inside) if ns and ns != mine), None)

    def descendants(self) -> list[int]:
        if self.proc is None:
            return []
        tree, out, todo = _children(), [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            for child in tree.get(pid, []):
                out.append(child)
                todo.append(child)
        return out

    def stray_processes(self) -> int:
        """Processes the student's code left running (a fork bomb, a background job)."""
        return max(0, len(self.descendants()) - self._baseline)

    def kill(self) -> None:
        if self.proc is None:
            return
        inside = self.descendants()
        for pid in [*inside, self.proc.pid]:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        # After a fork bomb, wait until every process of its PID namespace is gone: they count
        # against the next sandbox's process limit. (Only this sandbox's: others may run as the
        # same user.) The host's init reaps them, which can take a second.
        deadline = time.monotonic() + 10
        while self._pidns and len(inside) > self._baseline and time.monotonic() < deadline:
            left = _in_namespace(self._pidns)
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            time.sleep(0.02)
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


def sandbox_problem() -> str | None:
    """None when a sandbox starts here, else why not (start one and stop it, about a second)."""
    try:
        with Sandbox():
            return None
    except SandboxUnavailable as exc:
        return str(exc)
