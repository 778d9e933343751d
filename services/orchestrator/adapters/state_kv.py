"""Councils and deliberation records in NATS JetStream key-value buckets.

JetStream already stores our events durably and is shared by every replica, so
its KV buckets give persistent, replica-wide state without another database.
"""

from __future__ import annotations

import asyncio

from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue

from services.orchestrator.domain.council import Council, Role
from services.orchestrator.domain.tracking import DeliberationRecord
from services.shared.replicas import key_value, kv_config

COUNCILS_BUCKET = "conclave_councils"
DELIBERATIONS_BUCKET = "conclave_deliberations"
# Index from (story, role) to the deliberation currently holding it, for superseding.
ACTIVE_BUCKET = "conclave_active"
# The ids of deliberations whose final event is not yet out: housekeeping scans these, not
# every record ever kept, and re-announces a final state whose publisher died.
OPEN_BUCKET = "conclave_open"
# One key: which Orchestrator replica admits. It expires unless its holder renews it.
LEASE_BUCKET = "conclave_admission_lease"
READ_BATCH = 64  # record reads in flight at once


async def _bucket(js: JetStreamContext, name: str, replicas: int) -> KeyValue:
    return await key_value(js, kv_config(name, replicas))


def _safe(key: str) -> str:
    # KV keys allow [-/_=.a-zA-Z0-9]; story ids are free text.
    return "".join(ch if ch.isalnum() or ch in "-_=" else f"_{ord(ch):x}" for ch in key)


class CouncilStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int = 1) -> CouncilStore:
        return cls(await _bucket(js, COUNCILS_BUCKET, replicas))

    async def get(self, role: Role) -> Council | None:
        try:
            entry = await self._kv.get(role.value)
        except KeyNotFoundError:
            return None
        return Council.model_validate_json(entry.value) if entry.value else None

    async def create(self, council: Council) -> bool:
        """False when the role already has a council."""
        try:
            await self._kv.create(council.role.value, council.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def put(self, council: Council) -> None:
        await self._kv.put(council.role.value, council.model_dump_json().encode())

    async def delete(self, role: Role) -> bool:
        if await self.get(role) is None:
            return False
        await self._kv.purge(role.value)
        return True

    async def all(self) -> list[Council]:
        councils = [await self.get(Role(key)) for key in await _keys(self._kv)]
        return [c for c in councils if c is not None]


class DeliberationStore:
    def __init__(self, js: JetStreamContext, records: KeyValue, active: KeyValue, unfinished: KeyValue) -> None:
        self._js = js
        self._records = records
        self._active = active
        self._open = unfinished

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int = 1) -> DeliberationStore:
        buckets = (DELIBERATIONS_BUCKET, ACTIVE_BUCKET, OPEN_BUCKET)
        return cls(js, *[await _bucket(js, name, replicas) for name in buckets])

    async def remove_from_open_index(self, deliberation_id: str) -> None:
        """Drop the id from the open index, once its final event is out."""
        # A KV delete leaves a marker that every later key scan reads again; purging the
        # key's subject in the bucket's stream (KV_<bucket>, $KV.<bucket>.<key>) leaves none.
        await self._js.purge_stream(f"KV_{OPEN_BUCKET}", subject=f"$KV.{OPEN_BUCKET}.{deliberation_id}")

    async def get(self, deliberation_id: str) -> DeliberationRecord | None:
        try:
            entry = await self._records.get(deliberation_id)
        except KeyNotFoundError:
            return None
        return DeliberationRecord.model_validate_json(entry.value) if entry.value else None

    async def create(self, record: DeliberationRecord) -> bool:
        """False when the id exists already: dispatch is idempotent."""
        if await self.get(record.deliberation_id) is not None:
            return False  # never re-list a record that may be final and announced already
        # Into the open index first: a crash in between leaves a stray id there, never a record missing from it.
        await self._open.put(record.deliberation_id, b"")
        try:
            await self._records.create(record.deliberation_id, record.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            return False
        if record.story_id:
            await self._active.put(_safe(f"{record.story_id}.{record.role.value}"), record.deliberation_id.encode())
        return True

    async def save(self, record: DeliberationRecord) -> bool:
        """Write a transition unless the stored record is already terminal (first final state
        wins); False when it was."""
        for _ in range(5):
            entry = await self._records.get(record.deliberation_id)
            if DeliberationRecord.model_validate_json(entry.value or b"{}").terminal:
                return False
            try:
                payload = record.model_dump_json().encode()
                await self._records.update(record.deliberation_id, payload, last=entry.revision)
            except KeyWrongLastSequenceError:
                continue
            return True
        raise RuntimeError(f"could not save {record.deliberation_id}: too much contention")

    async def active(self, story_id: str, role: Role) -> DeliberationRecord | None:
        try:
            entry = await self._active.get(_safe(f"{story_id}.{role.value}"))
        except KeyNotFoundError:
            return None
        return await self.get(entry.value.decode()) if entry.value else None

    async def all(self) -> list[DeliberationRecord]:
        return await self._get_all(await _keys(self._records))

    async def records_in_open_index(self) -> list[DeliberationRecord]:
        """The records in the open index: not yet final, or final but not yet announced."""
        return await self._get_all(await self._open_ids())

    async def _open_ids(self) -> list[str]:
        # The index's stream lists its subjects in one request. A key listing (a watcher) waits
        # for the last key it was told of, and a key purged meanwhile (remove_from_open_index)
        # never comes: in a 200-plan burst one listing waited forever, holding admission up.
        # One reply carries every id: about 40 bytes each, so tens of thousands fit a message.
        prefix = f"$KV.{OPEN_BUCKET}."
        info = await self._js.stream_info(f"KV_{OPEN_BUCKET}", subjects_filter=f"{prefix}>")
        return [subject.removeprefix(prefix) for subject in info.state.subjects or {}]

    async def _get_all(self, ids: list[str]) -> list[DeliberationRecord]:
        # Many reads in flight, not one round trip after another: with a thousand queued, each
        # admission round reads them all.
        records: list[DeliberationRecord | None] = []
        for start in range(0, len(ids), READ_BATCH):
            records += await asyncio.gather(*(self.get(key) for key in ids[start:start + READ_BATCH]))
        return [r for r in records if r is not None]


async def _keys(kv: KeyValue) -> list[str]:
    try:
        return list(await kv.keys())
    except NoKeysError:
        return []


class AdmissionLease:
    """Only the holder admits, so one count of running deliberations bounds every replica.
    The bucket's TTL frees the lease of a holder that died; a holder renews on every use."""

    def __init__(self, kv: KeyValue, holder: str) -> None:
        self._kv = kv
        self._holder = holder.encode()

    @classmethod
    async def open(
        cls, js: JetStreamContext, holder: str, ttl_s: float, bucket: str = LEASE_BUCKET, replicas: int = 1
    ) -> AdmissionLease:
        return cls(await key_value(js, kv_config(bucket, replicas, ttl_s)), holder)

    async def hold(self) -> bool:
        try:
            entry = await self._kv.get("holder")
        except KeyNotFoundError:
            entry = None
        try:
            if entry is None or not entry.value:
                await self._kv.create("holder", self._holder)
            elif entry.value == self._holder:
                await self._kv.update("holder", self._holder, last=entry.revision)
            else:
                return False
        except KeyWrongLastSequenceError:
            return False  # another replica took or renewed it meanwhile
        return True
