"""A sandbox for untrusted Python built on bubblewrap (Debian package `bubblewrap`).

Inside: its own user, PID, network (loopback only), IPC, UTS and cgroup namespaces; a
read-only root holding only the OS's /usr and the interpreter's prefix (no /etc, no /home,
no project, no host /tmp); the task's files read-only under /task; a size-capped tmpfs at
/scratch as the only writable place; an empty environment. Limits: CPU seconds, address
space, processes and file size by rlimit (prlimit, inside, so they count only the sandbox's
own processes), wall time and output size from outside. Killing the outer bwrap ends the
PID namespace's init, and the kernel then kills every process left in it: daemons included.

Run as root, the sandbox drops to a throw-away uid first: root's processes are exempt from
the process limit, and the sandbox has no business with root's files anyway.
"""

from __future__ import annotations

import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from services.orchestrator.domain.sandbox import SandboxLimits, SandboxOutcome, SandboxUnavailable

TASK_DIR = "/task"
SCRATCH_DIR = "/scratch"
# Throw-away uids for the root case: high, unnamed, one per run so that concurrent sandboxes'
# processes are counted apart.
_UID_RANGE = (1 << 20, 1 << 21)
_ROOT_LINKS = ("bin", "lib", "lib32", "lib64", "libx32", "sbin")
# bwrap does not hand the CPU time of the processes inside back to its parent (its PID-1 reaper
# is never waited for), so the interpreter reports its own on a pipe when it ends. A sandboxed
# program can lie on it, which costs only the accuracy of a measurement.
_LAUNCHER = """import os, resource, sys
fd = int(sys.argv.pop(1)); sys.argv.pop(0)
try:
    with open(sys.argv[0]) as f:
        code = compile(f.read(), sys.argv[0], "exec")
    exec(code, {"__name__": "__main__", "__file__": sys.argv[0]})
finally:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    os.write(fd, repr(s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime).encode())
"""


class BwrapSandbox:
    def __init__(self, bwrap: str | None = None, python: str | None = None) -> None:
        self.bwrap = bwrap or shutil.which("bwrap") or ""
        self.prlimit = shutil.which("prlimit", path="/usr/bin:/bin") or ""
        self.setpriv = shutil.which("setpriv", path="/usr/bin:/bin") or ""
        self.python = python or _interpreter()
        self._reason: str | None = None

    # -- availability -----------------------------------------------------------------------

    def unavailable(self) -> str:
        """Why no sandbox can be created here ("" when one can). A success is remembered; a
        failure is probed again next time, so a passing problem does not stick."""
        if self._reason != "":
            self._reason = self._probe()
        return self._reason

    def _probe(self) -> str:
        if not self.bwrap:
            return "bubblewrap (bwrap) is not installed; `conclave stack up` installs it, images ship it"
        if not self.prlimit or (os.geteuid() == 0 and not self.setpriv):
            return "prlimit and setpriv (util-linux) are not installed"
        try:
            done = self._run({"probe.py": "print('ok')"}, [f"{TASK_DIR}/probe.py"], SandboxLimits(wall_s=10))
        except OSError as exc:
            return f"bwrap could not start: {exc}"
        if done.stdout.strip() != "ok":
            detail = (done.stderr.strip() or done.killed or f"exit {done.exit_code}")[-300:]
            return f"bwrap cannot create a sandbox here (user/network namespaces denied?): {detail}"
        return ""

    # -- running ----------------------------------------------------------------------------

    def run_python(self, files: Mapping[str, str], main: str, limits: SandboxLimits | None = None) -> SandboxOutcome:
        reason = self.unavailable()
        if reason:
            raise SandboxUnavailable(reason)
        if main not in files:
            raise ValueError(f"main: {main!r} is not one of the files")
        return self._run(files, [f"{TASK_DIR}/{main}"], limits or SandboxLimits())

    def _run(self, files: Mapping[str, str], args: list[str], limits: SandboxLimits) -> SandboxOutcome:
        fds: list[int] = []
        usage_r, usage_w = os.pipe()
        try:
            fds.append(usage_w)
            argv = self._argv(files, fds, limits)
            argv += [self.python, "-I", "-S", "-B", "-c", _LAUNCHER, str(usage_w), *args]
            outcome = self._supervise(argv, fds, limits)
        finally:
            for fd in fds:
                os.close(fd)
        with os.fdopen(usage_r, "rb") as usage:
            reported = usage.read(64)
        try:
            outcome.cpu_ms += round(float(reported) * 1000, 3)
        except ValueError:
            pass  # killed before it could report: only bwrap's own time is known
        return outcome

    def _argv(self, files: Mapping[str, str], fds: list[int], limits: SandboxLimits) -> list[str]:
        argv = [
            self.bwrap,
            "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--disable-userns",
            "--die-with-parent", "--new-session", "--clearenv",
            "--hostname", "sandbox",
            "--ro-bind", "/usr", "/usr",
        ]  # fmt: skip
        for name in _ROOT_LINKS:
            host = Path("/") / name
            if host.is_symlink():
                argv += ["--symlink", os.readlink(host), str(host)]
            elif host.is_dir():
                argv += ["--ro-bind", str(host), str(host)]
        prefix = Path(self.python).resolve().parent.parent
        if not prefix.is_relative_to("/usr"):
            argv += ["--ro-bind", str(prefix), str(prefix)]
        argv += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
        argv += ["--size", str(limits.scratch_mb << 20), "--tmpfs", SCRATCH_DIR]
        argv += ["--dir", TASK_DIR]
        for name, text in files.items():
            if "/" in name or name.startswith("."):
                raise ValueError(f"files: {name!r} must be a plain file name")
            fd = os.memfd_create(f"sandbox-{name}")
            fds.append(fd)
            os.write(fd, text.encode())
            os.lseek(fd, 0, os.SEEK_SET)
            argv += ["--ro-bind-data", str(fd), f"{TASK_DIR}/{name}"]
        argv += ["--remount-ro", "/", "--chdir", SCRATCH_DIR]
        for key, value in (("PATH", "/usr/bin:/bin"), ("HOME", SCRATCH_DIR), ("TMPDIR", SCRATCH_DIR)):
            argv += ["--setenv", key, value]
        argv += ["--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONHASHSEED", "0"]
        argv += [
            "--", self.prlimit,
            f"--cpu={limits.cpu_s}",
            f"--as={limits.memory_mb << 20}",
            f"--nproc={limits.processes}",
            f"--fsize={limits.scratch_mb << 20}",
            "--core=0",
            "--nofile=256",
            "--",
        ]  # fmt: skip
        return argv

    def _supervise(self, argv: list[str], fds: list[int], limits: SandboxLimits) -> SandboxOutcome:
        if os.geteuid() == 0:
            # setpriv, not Popen(user=...): changing ids in the child rules out vfork, and a plain
            # fork of a process full of gRPC threads can crash in their fork handlers.
            uid = str(random.randrange(*_UID_RANGE))
            argv = [self.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", *argv]
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=fds,
            start_new_session=True,
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
        )
        out, err, killed = self._collect(proc, started + limits.wall_s, limits.output_bytes)
        if killed:
            _kill(proc)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        return SandboxOutcome(
            exit_code=None if killed else proc.returncode,
            stdout=out.decode(errors="replace"),
            stderr=err.decode(errors="replace"),
            wall_ms=round((time.perf_counter() - started) * 1000, 3),
            cpu_ms=round((usage.ru_utime + usage.ru_stime) * 1000, 3),
            killed=killed,
            truncated=killed == "output limit",
        )

    @staticmethod
    def _collect(proc: subprocess.Popen[bytes], deadline: float, cap: int) -> tuple[bytes, bytes, str]:
        """Read both pipes until they close, the deadline passes or the output passes `cap`."""
        assert proc.stdout is not None and proc.stderr is not None
        chunks: dict[int, bytearray] = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
        killed = ""
        with selectors.DefaultSelector() as sel:
            for stream in (proc.stdout, proc.stderr):
                sel.register(stream, selectors.EVENT_READ)
            while sel.get_map():
                left = deadline - time.perf_counter()
                if left <= 0:
                    killed = "wall time"
                    break
                for key, _ in sel.select(timeout=left):
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    chunks[key.fd] += data
                if sum(len(c) for c in chunks.values()) > cap:
                    killed = "output limit"
                    break
        proc.stdout.close()
        proc.stderr.close()
        out, err = (bytes(c[:cap]) for c in chunks.values())
        return out, err, killed


def _interpreter() -> str:
    """The base interpreter (never a venv's, whose site-packages would come along), or the
    system's when the base lives somewhere a throw-away uid cannot read (a root-owned home)."""
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    system = shutil.which("python3", path="/usr/bin")
    if base.startswith("/usr/") or system is None:
        return base
    if os.geteuid() == 0 or not os.access(base, os.R_OK | os.X_OK):
        return os.path.realpath(system)
    return base


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the outer bwrap's session; the PID namespace's init dies with it (die-with-parent),
    and with init the kernel kills everything left inside."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
