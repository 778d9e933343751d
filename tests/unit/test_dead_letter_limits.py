"""The inline limit of a dead letter is checked against the server's max payload at start."""

import pytest

from services.shared.deadletter import ENVELOPE_BYTES, DeadLetterConfigError, check_inline_limit
from services.shared.events import DeadLetter


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
