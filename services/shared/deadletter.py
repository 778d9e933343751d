"""Dead letters that always fit and always keep the original bytes.

A letter is stored (acknowledged by the DEAD_LETTERS stream, and its payload by the
object store when it is too large to inline) before the original is terminated. When
it cannot be stored, the original is nak'ed and comes back later: nothing is dropped
that has not been kept.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.client import JetStreamContext
from nats.js.object_store import ObjectStore
from prometheus_client import Counter

from services.shared import tracing
from services.shared.events import DeadLetter, dead_letter_subject
from services.shared.ids import printable
from services.shared.replicas import object_store
from services.shared.streams import DAY

log = logging.getLogger(__name__)

PAYLOAD_BUCKET = "DEAD_LETTER_PAYLOADS"
# Room the record needs beside an inline payload: its own fields, the bounded error
# texts and the bounded headers. Checked against the server's max_payload at start.
ENVELOPE_BYTES = 32 * 1024
MAX_REASON_CHARS = 1_000
MAX_ERROR_CHARS = 2_000
MAX_HEADERS_BYTES = 8 * 1024

# reason: "invalid" (no schema accepts it) or "exhausted" (MaxDeliver reached); the free-text
# reason stays in the letter, where it cannot grow the label space.
STORED = Counter("conclave_dead_letters_total", "Messages dead-lettered", ["subject", "where", "reason"])
FAILED = Counter("conclave_dead_letter_failures_total", "Dead letters that could not be stored (message nak'ed)")


class DeadLetterConfigError(ValueError):
    pass


def check_inline_limit(max_inline_bytes: int, max_payload: int) -> None:
    """The largest inline letter plus its envelope must fit in one NATS message."""
    if max_inline_bytes < 1024:
        raise DeadLetterConfigError(f"dead_letter_max_inline_bytes: {max_inline_bytes} is below 1024")
    if max_inline_bytes + ENVELOPE_BYTES > max_payload:
        raise DeadLetterConfigError(
            f"dead_letter_max_inline_bytes: {max_inline_bytes} + {ENVELOPE_BYTES} envelope exceeds the "
            f"server's max_payload of {max_payload}"
        )


def _bounded(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, and always encodable: JSON may escape a lone surrogate
    that an untrusted key or value carries into a reason, and a letter that cannot be serialized
    would never be stored (its message redelivered for ever)."""
    shown = text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"
    return printable(shown)


def _headers(msg: Msg) -> dict[str, str]:
    headers = {printable(str(k)): printable(str(v)) for k, v in (msg.headers or {}).items()}
    size = sum(len(k) + len(v) for k, v in headers.items())
    if size <= MAX_HEADERS_BYTES:
        return headers
    # Keep what fits; the note says the rest was cut so no one mistakes it for the whole.
    kept: dict[str, str] = {}
    used = 0
    for key, value in headers.items():
        item = _bounded(key, 200), _bounded(value, 1_000)
        if used + len(item[0]) + len(item[1]) > MAX_HEADERS_BYTES - 200:
            break
        kept[item[0]] = item[1]
        used += len(item[0]) + len(item[1])
    kept["Conclave-Headers-Truncated"] = f"{len(headers)} headers, {size} bytes"
    return kept


def letter_for(msg: Msg, reason: str, error: str = "") -> DeadLetter:
    """The record with the original bytes inline: as text when they are UTF-8, else base64."""
    meta = msg.metadata
    data = bytes(msg.data)
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return DeadLetter.model_validate(
        {
            # Per consumer: two services that both reject a message each keep their own letter.
            "event_id": f"dead-letter:{meta.stream}:{meta.sequence.stream}:{meta.consumer}",
            "consumer": meta.consumer,
            "subject": msg.subject,
            "reason": _bounded(reason, MAX_REASON_CHARS),
            "error": _bounded(error, MAX_ERROR_CHARS),
            "source_stream": meta.stream,
            "source_seq": meta.sequence.stream,
            "deliveries": meta.num_delivered,
            "headers": _headers(msg),
            "payload": text,
            "payload_b64": None if text is not None else base64.b64encode(data).decode("ascii"),
            "payload_size": len(data),
            "payload_sha256": hashlib.sha256(data).hexdigest(),
        }
    )


@dataclass
class DeadLetters:
    """Where a consumer sends what it can never process."""

    js: JetStreamContext
    max_inline_bytes: int
    store: ObjectStore | None = None
    retry_delay_s: float = 5.0
    replicas: int = 1

    @classmethod
    async def open(
        cls, nc: NATS, max_inline_bytes: int, retry_delay_s: float = 5.0, replicas: int = 1
    ) -> DeadLetters:
        check_inline_limit(max_inline_bytes, nc.max_payload)
        letters = cls(nc.jetstream(), max_inline_bytes, retry_delay_s=retry_delay_s, replicas=replicas)
        await letters._bucket()
        return letters

    async def _bucket(self) -> ObjectStore:
        if self.store is None:
            config = ObjectStoreConfig(
                bucket=PAYLOAD_BUCKET, storage=StorageType.FILE, ttl=30 * DAY, replicas=self.replicas
            )
            self.store = await object_store(self.js, config)
        return self.store

    async def encode(self, msg: Msg, reason: str, error: str = "") -> DeadLetter:
        """The record, with the payload moved to the object store when it would not fit."""
        letter = letter_for(msg, reason, error)
        if len(letter.to_bytes()) <= self.max_inline_bytes:
            return letter
        name = f"{letter.source_stream}.{letter.source_seq}.{letter.consumer}"
        await (await self._bucket()).put(name, bytes(msg.data))
        return letter.model_copy(
            update={"payload": None, "payload_b64": None, "payload_object": name, "payload_bucket": PAYLOAD_BUCKET}
        )

    async def send(self, msg: Msg, reason: str, error: str = "", kind: str = "invalid") -> bool:
        """Store the letter, then terminate the original; on failure nak it for later. True when stored."""
        try:
            letter = await self.encode(msg, reason, error)
            await self.js.publish(
                dead_letter_subject(msg.subject), letter.to_bytes(),
                headers=tracing.inject({"Nats-Msg-Id": letter.event_id}),
            )
        except Exception as exc:
            FAILED.inc()
            log.error("dead letter not stored; message nak'ed for a retry",
                      extra={"subject": msg.subject[:200], "error": _bounded(repr(exc), 500)})
            try:
                await msg.nak(delay=self.retry_delay_s)
            except Exception:
                log.warning("nak failed; the message comes back after its ack wait")
            return False
        await msg.term()
        where = "object" if letter.payload_object else "inline"
        STORED.labels(letter.original_subject.split(".", 2)[0], where, kind).inc()
        log.warning("dead-lettered", extra={"subject": msg.subject[:200], "reason": letter.reason[:200]})
        return True


async def original_bytes(js: JetStreamContext, letter: DeadLetter) -> bytes:
    """The message exactly as it arrived, wherever the letter keeps it."""
    if letter.payload is not None:
        return letter.payload.encode("utf-8")
    if letter.payload_b64 is not None:
        return base64.b64decode(letter.payload_b64)
    if letter.payload_object:
        store = await js.object_store(letter.payload_bucket or PAYLOAD_BUCKET)
        result = await store.get(letter.payload_object)
        return bytes(result.data or b"")
    raise ValueError(f"dead letter {letter.event_id} holds no payload")

