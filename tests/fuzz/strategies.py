"""Hypothesis strategies for hostile input: adversarial strings, mutated events and
arbitrary protobuf request messages built from their descriptors."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

# NATS wildcards and separators, path tricks, Cypher and JSON metacharacters, invisible
# and direction-changing unicode, control characters.
SPECIALS = [
    "", " ", "*", ">", ".", "..", "../", "a.b", "a b", "a.*", "a.>", "$JS.API", "_INBOX.x",
    "\x00", "\x01", "\x1b[31m", "\x7f", "\n", "\r\n", "\t", "\u200b", "\ufeff", "\u202e", "ü", "☃", "\U0001d518",
    "'", '"', "`", "\\", "{", "}", "[", "]", "$", "%s", "%n",
    "MATCH (n) DETACH DELETE n", "'}) RETURN 1 //", "\"}) DETACH DELETE n //", '{"a":', "null", "NaN",
]
HUGE = [129, 1_000, 100_000, 1_000_000]


def adversarial_text(allow_surrogates: bool = False) -> st.SearchStrategy[str]:
    chars = st.characters(codec=None) if allow_surrogates else st.characters(codec="utf-8")
    return st.one_of(
        st.text(chars, max_size=40),
        st.sampled_from(SPECIALS),
        st.lists(st.sampled_from(SPECIALS), min_size=1, max_size=6).map("".join),
        st.builds(lambda c, n: c * n, st.sampled_from(["x", "\x01", "*", "é"]), st.sampled_from(HUGE)),
    )


def wrong_type() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False), st.just([]), st.just({}),
        st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    )


def json_value() -> st.SearchStrategy[Any]:
    return st.one_of(adversarial_text(allow_surrogates=True), wrong_type())


@st.composite
def mutated(draw: st.DrawFn, template: dict[str, Any], protected: frozenset[str] = frozenset()) -> dict[str, Any]:
    """`template` with one to three fields replaced, removed, or added.

    A field in `protected` is only ever given a value that can never be valid for it
    (so a fuzzed plan never starts a real deliberation under a fresh id)."""
    event = json.loads(json.dumps(template))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["replace", "remove", "add", "nested"]))
        key = draw(st.sampled_from(sorted(event) or ["event_id"]))
        if action == "replace":
            event[key] = draw(json_value().filter(lambda v, k=key: k not in protected or _never_valid(v)))
        elif action == "remove":
            event.pop(key, None)
        elif action == "add":
            event[draw(adversarial_text(allow_surrogates=True))] = draw(json_value())
        elif key not in protected and isinstance(event.get(key), list) and event[key]:
            item = event[key][0]
            if isinstance(item, dict) and item:
                item[draw(st.sampled_from(sorted(item)))] = draw(json_value())
            else:
                event[key][0] = draw(json_value())
    return event


def _never_valid(value: Any) -> bool:
    """A value no id, role list or version can be: not a plain id string or small int."""
    if isinstance(value, str):
        return not value or any(not (ch.isascii() and (ch.isalnum() or ch in "_-.")) for ch in value)
    return not isinstance(value, int) or isinstance(value, bool) or value <= 0


def encode(event: dict[str, Any]) -> bytes:
    """JSON as a hostile publisher might send it: lone surrogates escaped, never raw."""
    return json.dumps(event, ensure_ascii=True).encode("ascii")


# Protobuf requests -----------------------------------------------------------
_INTS = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
}


def _scalar(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return adversarial_text()
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        width = 32 if kind == FieldDescriptor.TYPE_FLOAT else 64
        return st.floats(width=width)
    if kind == FieldDescriptor.TYPE_ENUM:
        # Open enums: unknown numbers travel on the wire too.
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-3, 40))
    if kind == FieldDescriptor.TYPE_MESSAGE:
        return messages(field.message_type, depth + 1)
    low, high = _INTS.get(kind, (-(2**31), 2**31 - 1))
    return st.one_of(st.integers(low, high), st.integers(max(low, -5), 10))


@st.composite
def _message(draw: st.DrawFn, descriptor: Descriptor, depth: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in descriptor.fields:
        if depth > 2 and field.type == FieldDescriptor.TYPE_MESSAGE:
            continue
        if not draw(st.booleans()):
            continue  # missing: the proto3 default
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_f, value_f = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            values[field.name] = draw(st.dictionaries(_scalar(key_f, depth), _scalar(value_f, depth), max_size=3))
        elif field.is_repeated:
            values[field.name] = draw(st.lists(_scalar(field, depth), max_size=3))
        else:
            values[field.name] = draw(_scalar(field, depth))
    return values


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Any]:
    return _message(descriptor, depth)


def build(cls: type[Message], values: dict[str, Any]) -> Message:
    """The message from nested plain values (maps of messages and repeated messages included)."""
    message = cls()
    _fill(message, values)
    return message


def _fill(message: Message, values: dict[str, Any]) -> None:
    for name, value in values.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_f = field.message_type.fields_by_name["value"]
            for k, v in value.items():
                if value_f.message_type is not None:
                    _fill(target[k], v)
                else:
                    target[k] = v
        elif field.is_repeated:
            for item in value:
                if field.message_type is not None:
                    _fill(target.add(), item)
                else:
                    target.append(item)
        elif field.message_type is not None:
            _fill(target, value)
            target.SetInParent()
        else:
            setattr(message, name, value)
