"""Dead letters: the inline limit is checked against the server's max payload at start, and a letter
is always one that can be stored."""

import json

import pytest
from nats.aio.msg import Msg

from services.shared.deadletter import ENVELOPE_BYTES, DeadLetterConfigError, check_inline_limit, letter_for
from services.shared.event_parsing import InvalidEvent, parse_event
from services.shared.events import STORY_TRANSITIONED, DeadLetter


def test_an_inline_limit_that_cannot_fit_the_server_fails_the_start() -> None:
    check_inline_limit(512 * 1024, 1024 * 1024)
    with pytest.raises(DeadLetterConfigError, match="dead_letter_max_inline_bytes"):
        check_inline_limit(1024 * 1024 - ENVELOPE_BYTES + 1, 1024 * 1024)
    with pytest.raises(DeadLetterConfigError, match="below"):
        check_inline_limit(10, 1024 * 1024)


def test_a_letter_names_its_source_subject_as_subject_on_the_wire() -> None:
    letter = DeadLetter.model_validate({"subject": "planning.plan.approved", "reason": "r", "payload_b64": "/w=="})
    wire = letter.model_dump(mode="json")
    assert wire["subject"] == "planning.plan.approved" and "original_subject" not in wire
    assert DeadLetter.model_validate_json(letter.to_bytes()).original_subject == "planning.plan.approved"


def test_a_lone_surrogate_in_a_key_still_gives_a_letter_that_can_be_stored() -> None:
    # Found by the 10,000-example fuzz run: JSON escaped a lone surrogate into a key, the reason
    # named the key, the letter could not be serialized, and the message was redelivered for ever.
    body = json.dumps({"story_id": "S-1", "from_phase": "DESIGN", "to_phase": "BUILD", "x\udd02y": 1}).encode()
    with pytest.raises(InvalidEvent) as caught:
        parse_event(STORY_TRANSITIONED, body)
    reason = str(caught.value)
    assert "\\udd02" in reason, reason  # named, escaped
    reason.encode("utf-8")
    ack = "$JS.ACK.PLANNING_EVENTS.context-story-transitioned.1.7.7.1700000000000000000.0"
    msg = Msg(_client=None, subject=STORY_TRANSITIONED, reply=ack, data=body,  # type: ignore[arg-type]
              headers={"Nats-Msg-Id": "m\udd02"})
    letter = letter_for(msg, reason, error="got \udd02")
    stored = DeadLetter.model_validate_json(letter.to_bytes())
    assert stored.reason == reason and stored.error == "got \\udd02"
    assert stored.payload is not None and stored.payload.encode() == body  # the original, byte for byte
    assert stored.headers["Nats-Msg-Id"] == "m\\udd02"
