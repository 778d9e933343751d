"""A logical backup of the whole graph as JSON lines, and its restore into an empty database.

Neo4j Community has no online backup tool, so this reads every node and relationship through
the driver while the services run, and writes them back with batched UNWINDs. One JSON object
per line:

    {"kind": "header", "format": "conclave-graph", "version": 1, "exported_at": "..."}
    {"kind": "node", "id": "...", "labels": [...], "properties": {...}}
    {"kind": "relationship", "type": "...", "start": "...", "end": "...", "properties": {...}}
    {"kind": "end", "nodes": N, "relationships": M}

A node's id is its element id in the exported database; it only ties relationships to their
endpoints inside one file (every node is restored, key or not, and gets a new element id). The
end line makes a truncated file detectable: import refuses a file without it. Values that JSON
cannot carry as they are (bytes, Neo4j temporal types) are written as {"$type": ..., "value": ...}.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from neo4j import READ_ACCESS, AsyncDriver
from neo4j.time import Date, DateTime, Duration, Time

FORMAT = "conclave-graph"
VERSION = 1
BATCH = 1000
# Marks restored nodes until every relationship is linked; indexed so each link is a lookup.
RESTORE_LABEL = "_ConclaveRestore"
RESTORE_KEY = "_conclave_restore_id"

UNMARK = f"MATCH (n:{RESTORE_LABEL}) WITH n LIMIT $batch REMOVE n:{RESTORE_LABEL}, n.{RESTORE_KEY} RETURN count(n) AS n"

_TEMPORAL: dict[str, Any] = {"datetime": DateTime, "date": Date, "time": Time}


class BackupError(Exception):
    pass


@dataclass(frozen=True)
class Counts:
    nodes: int
    relationships: int


def encode(value: Any, where: str = "") -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [encode(v, where) for v in value]
    if isinstance(value, bytes | bytearray):
        return {"$type": "bytes", "value": base64.b64encode(value).decode()}
    for name, cls in _TEMPORAL.items():
        if isinstance(value, cls):
            return {"$type": name, "value": value.iso_format()}
    if isinstance(value, Duration):
        return {"$type": "duration", "value": [value.months, value.days, value.seconds, value.nanoseconds]}
    raise BackupError(f"{where}: cannot back up a value of type {type(value).__name__}")


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind, raw = value.get("$type"), value["value"]
    if kind == "bytes":
        return base64.b64decode(raw)
    if kind in _TEMPORAL:
        return _TEMPORAL[kind].from_iso_format(raw)
    if kind == "duration":
        months, days, seconds, nanoseconds = raw
        return Duration(months=months, days=days, seconds=seconds, nanoseconds=nanoseconds)
    raise BackupError(f"unknown value type {kind!r}")


def _props(props: dict[str, Any], where: str) -> dict[str, Any]:
    return {k: encode(v, f"{where}.{k}") for k, v in props.items()}


def _node_line(rec: Any) -> str:
    where = f"node {rec['id']}"
    labels = sorted(rec["labels"])
    return json.dumps({"kind": "node", "id": rec["id"], "labels": labels, "properties": _props(rec["props"], where)})


NODES = "MATCH (n) RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props"
NODES_BY_ID = NODES.replace("RETURN", "WHERE elementId(n) IN $ids RETURN")
RELATIONSHIPS = (
    "MATCH (a)-[r]->(b) RETURN elementId(r) AS id, type(r) AS type, elementId(a) AS start, "
    "elementId(b) AS end, properties(r) AS props"
)


async def export_graph(driver: AsyncDriver, out: TextIO, database: str | None = None) -> Counts:
    """Every node, then every relationship. A node created between the two scans that a
    relationship reaches is written after the relationships, so the file is always whole."""
    out.write(json.dumps({"kind": "header", "format": FORMAT, "version": VERSION}) + "\n")
    seen: set[str] = set()
    missing: set[str] = set()
    rels = 0
    async with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
        async for rec in await session.run(NODES):
            seen.add(rec["id"])
            out.write(_node_line(rec) + "\n")
        async for rec in await session.run(RELATIONSHIPS):
            rels += 1
            missing.update(e for e in (rec["start"], rec["end"]) if e not in seen)
            line = {"kind": "relationship", "type": rec["type"], "start": rec["start"], "end": rec["end"]}
            line["properties"] = _props(rec["props"], f"relationship {rec['id']}")
            out.write(json.dumps(line) + "\n")
        if missing:
            async for rec in await session.run(NODES_BY_ID, ids=sorted(missing)):
                seen.add(rec["id"])
                out.write(_node_line(rec) + "\n")
            if gone := missing - seen:
                raise BackupError(f"{len(gone)} nodes were deleted while the export ran; run it again")
    out.write(json.dumps({"kind": "end", "nodes": len(seen), "relationships": rels}) + "\n")
    return Counts(len(seen), rels)


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for number, text in enumerate(f, 1):
            if text.strip():
                try:
                    yield json.loads(text)
                except json.JSONDecodeError as e:
                    raise BackupError(f"{path}:{number}: not JSON ({e.msg})") from e


def check_file(path: Path) -> Counts:
    """The counts the file promises, after checking its header and that it ends whole."""
    header: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    nodes = rels = 0
    for line in read_lines(path):
        kind = line.get("kind")
        if header is None:
            if kind != "header" or line.get("format") != FORMAT or line.get("version") != VERSION:
                raise BackupError(f"{path}: not a {FORMAT} v{VERSION} file")
            header = line
        elif end is not None:
            raise BackupError(f"{path}: lines after the end line")
        elif kind == "node":
            nodes += 1
        elif kind == "relationship":
            rels += 1
        elif kind == "end":
            end = line
        else:
            raise BackupError(f"{path}: unknown line kind {kind!r}")
    if end is None:
        raise BackupError(f"{path}: no end line; the backup is incomplete")
    if (end["nodes"], end["relationships"]) != (nodes, rels):
        raise BackupError(
            f"{path}: the end line promises {end['nodes']} nodes and {end['relationships']} "
            f"relationships, the file holds {nodes} and {rels}"
        )
    return Counts(nodes, rels)


def _name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _batches(path: Path, kind: str, group: str) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """Lines of one kind in batches that share a label set or a relationship type (Cypher cannot
    take those as parameters in every Neo4j 5)."""
    pending: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for line in read_lines(path):
        if line.get("kind") != kind:
            continue
        key = tuple(line[group]) if isinstance(line[group], list) else line[group]
        pending[key].append(line)
        if len(pending[key]) >= BATCH:
            yield key, pending.pop(key)
    yield from pending.items()


async def _run(driver: AsyncDriver, database: str | None, query: str, **params: Any) -> Any:
    records, summary, _ = await driver.execute_query(query, database_=database, **params)
    return records, summary


async def import_graph(driver: AsyncDriver, path: Path, database: str | None = None) -> Counts:
    """Recreate the file's graph in an empty database, exactly: same labels, types, properties."""
    expected = check_file(path)
    records, _ = await _run(driver, database, "MATCH (n) RETURN count(n) AS n")
    if records[0]["n"]:
        raise BackupError(f"the database holds {records[0]['n']} nodes; import needs an empty one")
    await _run(
        driver, database, f"CREATE INDEX conclave_restore IF NOT EXISTS FOR (n:{RESTORE_LABEL}) ON (n.{RESTORE_KEY})"
    )
    await _run(driver, database, "CALL db.awaitIndexes(300)")
    nodes = rels = 0
    for labels, lines in _batches(path, "node", "labels"):
        label_text = "".join(":" + _name(label) for label in (*labels, RESTORE_LABEL))
        rows = [{"id": line["id"], "props": {k: decode(v) for k, v in line["properties"].items()}} for line in lines]
        _, summary = await _run(
            driver,
            database,
            f"UNWIND $rows AS r CREATE (n{label_text}) SET n = r.props, n.{RESTORE_KEY} = r.id",
            rows=rows,
        )
        nodes += summary.counters.nodes_created
    for rel_type, lines in _batches(path, "relationship", "type"):
        rows = [
            {"start": line["start"], "end": line["end"], "props": {k: decode(v) for k, v in line["properties"].items()}}
            for line in lines
        ]
        _, summary = await _run(
            driver,
            database,
            f"UNWIND $rows AS r MATCH (a:{RESTORE_LABEL} {{{RESTORE_KEY}: r.start}}) "
            f"MATCH (b:{RESTORE_LABEL} {{{RESTORE_KEY}: r.end}}) CREATE (a)-[x:{_name(rel_type)}]->(b) SET x = r.props",
            rows=rows,
        )
        rels += summary.counters.relationships_created
    while True:
        records, _ = await _run(
            driver,
            database,
            UNMARK,
            batch=BATCH * 10,
        )
        if not records[0]["n"]:
            break
    await _run(driver, database, "DROP INDEX conclave_restore IF EXISTS")
    if (nodes, rels) != (expected.nodes, expected.relationships):
        raise BackupError(
            f"restored {nodes} nodes and {rels} relationships, the file holds "
            f"{expected.nodes} and {expected.relationships}"
        )
    return Counts(nodes, rels)
