"""Secret redaction: every credential shape we know is masked, ordinary text is not."""

from __future__ import annotations

import pytest

from services.context.domain.redaction import MASK, redact

SECRETS = [
    ("password=hunter2", "hunter2"),
    ('{"api_key": "abcd1234efgh"}', "abcd1234efgh"),
    ("DB_PASSWORD: 's3cr3t!'", "s3cr3t!"),
    ("token = ghp_0123456789abcdefABCDEF0123", "ghp_0123456789abcdefABCDEF0123"),
    ("Authorization: Bearer eyJhbGciOi.abc.def-ghijk", "eyJhbGciOi.abc.def-ghijk"),
    ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ("aws key AKIAIOSFODNN7EXAMPLE in use", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG"),
    ("use sk-proj-ABCDEFGHIJKLMNOPQRSTUV for openai", "sk-proj-ABCDEFGHIJKLMNOPQRSTUV"),
    ("postgres://app:topsecret@db:5432/x", "topsecret"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----", "MIIEow"),
    ("client_secret => 'zzz999'", "zzz999"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_secret_is_masked(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert MASK in out


@pytest.mark.parametrize(
    "text",
    [
        "The token budget is 2000 tokens.",
        "Passwords must be hashed with argon2.",
        'MATCH (n {name: "x"}) RETURN n // {braces} "quotes" ünïcødé 漢字',
        "",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact(text) == text


def test_key_name_is_kept_for_readability() -> None:
    assert redact("password=hunter2") == f"password={MASK}"
