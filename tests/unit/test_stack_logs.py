"""A restarted server appends to its log (the crash that made it restart stays readable), with rotation."""

import sys
from pathlib import Path

from services.stack import process
from services.stack.supervisor import _logged


def _run(log: Path, text: str) -> None:
    pid = process.spawn([sys.executable, "-c", f"print({text!r})"], {}, log)
    process._children[pid].wait(10)
    process.reap(pid)


def test_a_restart_appends_and_old_ready_lines_do_not_count(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    _run(log, "Traceback: the crash")
    offset = log.stat().st_size
    _run(log, "ready")
    text = log.read_text()
    assert "Traceback: the crash" in text and "ready" in text and text.count("===== ") == 2
    assert _logged(log, "ready", offset) and not _logged(log, "Traceback", offset)


def test_a_large_log_is_rotated_keeping_a_bounded_number(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    for i in range(5):
        log.write_text(f"run {i}\n" * 100)
        process.rotate(log, max_bytes=100, keep=3)
    assert not log.exists()
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["server.log.1", "server.log.2", "server.log.3"]
    assert (tmp_path / "server.log.1").read_text().startswith("run 4")
    process.rotate(log, max_bytes=100)  # nothing to rotate: no error
