"""Runs inside the sandbox: one candidate's code against several suites of tests.

Standard library only: the sandbox has no site-packages. Reads /task/plan.json
({"code": str, "suites": {suite_id: source}, "per_test_s": float}) and prints one JSON line
per test ({"suite", "test", "status", "ms", "message"}) as it goes, so a run killed half way
still tells what it saw, then a last line {"done": true, "cpu_s": float}.
"""

import json
import re
import resource
import signal
import sys
import time

# Few imports: every one is paid once per candidate, on every deliberation.
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", re.MULTILINE)

MESSAGE_CHARS = 300
# Results go to the real stdout, tagged with the run's nonce; what the code prints goes to stderr.
_OUT = sys.stdout
_NONCE = [""]


class TestTimeout(BaseException):
    """A BaseException, so a candidate's `except Exception` cannot swallow it."""


def _on_alarm(signum, frame):
    raise TestTimeout()


class _Raises:
    def __init__(self, expected, match=None):
        self.expected, self.match, self.value = expected, match, None

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            raise AssertionError(f"DID NOT RAISE {self.expected}")
        if not issubclass(kind, self.expected):
            return False
        if self.match is not None and not re.search(self.match, str(value)):
            raise AssertionError(f"{value!r} does not match {self.match!r}")
        self.value = value
        return True


def _pytest_shim():
    # Candidates write pytest-style tests; the sandbox has no pytest, so the common part is here.
    shim = type(sys)("pytest")
    shim.__dict__.update(raises=_Raises, approx=_Approx, fail=_fail)
    return shim


def _fail(reason=""):
    raise AssertionError(reason)


class _Approx:
    def __init__(self, expected, rel=1e-6, abs=1e-12):
        self.expected, self.rel, self.abs = expected, rel, abs

    def __eq__(self, other):
        return abs(other - self.expected) <= max(self.rel * abs(self.expected), self.abs)


def _module_names(source):
    return {(a or b).split(".")[0] for a, b in _IMPORT.findall(source)}


def _load_code(code, aliases):
    module = type(sys)("solution")
    sys.modules["solution"] = module
    for alias in aliases:
        # Tests import the code under whatever name their author gave it.
        if alias not in sys.stdlib_module_names and alias not in sys.modules:
            sys.modules[alias] = module
    exec(compile(code, "solution.py", "exec"), module.__dict__)
    return module


def _tests_of(namespace):
    found = []
    for name, value in list(namespace.items()):
        if name.startswith("test") and callable(value) and not isinstance(value, type):
            found.append((name, value))
        elif name.startswith("Test") and isinstance(value, type):
            for attr in dir(value):
                if attr.startswith("test"):
                    found.append((f"{name}.{attr}", _bound(value, attr)))
    return found


def _bound(cls, attr):
    return lambda: getattr(cls(), attr)()


def _emit(record):
    record["nonce"] = _NONCE[0]
    _OUT.write(json.dumps(record) + "\n")
    _OUT.flush()


def _short(exc):
    return f"{type(exc).__name__}: {exc}"[:MESSAGE_CHARS]


def _run_test(suite_id, name, fn, per_test_s):
    t0 = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, per_test_s)
    try:
        fn()
        status, message = "passed", ""
    except AssertionError as exc:
        status, message = "failed", _short(exc)
    except TestTimeout:
        status, message = "errored", f"timeout after {per_test_s}s"
    except Exception as exc:
        status, message = "errored", _short(exc)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    ms = round((time.perf_counter() - t0) * 1000, 3)
    _emit({"suite": suite_id, "test": name, "status": status, "ms": ms, "message": message})


def main():
    with open("/task/plan.json") as f:
        plan = json.load(f)
    per_test_s = float(plan.get("per_test_s", 1.0))
    _NONCE[0] = plan.pop("nonce", "")
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.modules["pytest"] = _pytest_shim()
    aliases = set().union(*(_module_names(s) for s in plan["suites"].values())) - {"pytest"}
    # What the code prints goes to stderr: stdout carries only the results.
    sys.stdout = sys.stderr
    try:
        module = _load_code(plan["code"], aliases)
        load_error = ""
    except BaseException as exc:
        module, load_error = None, f"the code did not load: {_short(exc)}"
    for suite_id, source in plan["suites"].items():
        namespace = {"__name__": f"suite_{suite_id}"}
        if module is not None:
            namespace.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
        try:
            exec(compile(source, f"tests_{suite_id}.py", "exec"), namespace)
            tests = _tests_of(namespace)
        except BaseException as exc:
            _emit({"suite": suite_id, "test": "<collect>", "status": "errored", "ms": 0.0, "message": _short(exc)})
            continue
        for name, fn in tests:
            if load_error:
                _emit({"suite": suite_id, "test": name, "status": "errored", "ms": 0.0, "message": load_error})
                continue
            _run_test(suite_id, name, fn, per_test_s)
    usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    _emit({"done": True, "cpu_s": sum(u.ru_utime + u.ru_stime for u in usage)})


if __name__ == "__main__":
    main()
