"""The graph backup's file format and retention, without a server (the round trip on a real Neo4j is
tests/integration/test_graph_backup.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from neo4j.time import Date, DateTime, Duration

from services.context.adapters.graph_backup import BackupError, check_file, decode, encode
from services.context.entrypoints.graph_cli import backup_name, prune


@pytest.mark.parametrize(
    "value",
    [
        None, True, 3, 2.5, "text", [1, 2], ["a", "b"], b"\x00\xff",
        DateTime(2025, 1, 2, 3, 4, 5.123456789), Date(2025, 1, 2), Duration(months=1, days=2, seconds=3, nanoseconds=4),
    ],
)  # fmt: skip
def test_values_survive_json(value: object) -> None:
    assert decode(json.loads(json.dumps(encode(value)))) == value


def test_a_value_json_cannot_carry_is_refused_by_name() -> None:
    with pytest.raises(BackupError, match=r"node 7\.where"):
        encode(object(), "node 7.where")


def lines(*objs: dict[str, object]) -> str:
    return "".join(json.dumps(o) + "\n" for o in objs)


HEADER = {"kind": "header", "format": "conclave-graph", "version": 1}
NODE = {"kind": "node", "id": "n1", "labels": ["Story"], "properties": {}}
REL = {"kind": "relationship", "type": "R", "start": "n1", "end": "n1", "properties": {}}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (lines(HEADER, NODE, REL), "no end line"),
        (lines(HEADER, NODE, {"kind": "end", "nodes": 2, "relationships": 0}), "promises 2 nodes"),
        (lines({"kind": "header", "format": "other", "version": 1}), "not a conclave-graph"),
        (lines(HEADER, {"kind": "end", "nodes": 0, "relationships": 0}, NODE), "after the end line"),
        (lines(HEADER) + "{not json\n", "not JSON"),
    ],
)
def test_incomplete_or_foreign_files_are_refused(tmp_path: Path, body: str, error: str) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(body)
    with pytest.raises(BackupError, match=error):
        check_file(path)


def test_a_whole_file_reports_its_counts(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(lines(HEADER, NODE, REL, {"kind": "end", "nodes": 1, "relationships": 1}))
    assert (check_file(path).nodes, check_file(path).relationships) == (1, 1)


def test_export_keeps_the_newest_backups_only(tmp_path: Path) -> None:
    names = [backup_name(datetime(2025, 1, day, tzinfo=UTC)) for day in (3, 1, 2, 4)]
    for name in names:
        (tmp_path / name).write_text("{}")
    (tmp_path / "notes.txt").write_text("kept")
    removed = prune(tmp_path, 2)
    assert sorted(p.name for p in removed) == sorted(names[1:3])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names[0], names[3], "notes.txt"])
    assert prune(tmp_path, 0) == [], "0 keeps everything"
