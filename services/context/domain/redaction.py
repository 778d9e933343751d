"""Secret redaction, applied to every free-text field before budgeting.

Redacting first means a secret can never reach a prompt, and the token budget
is spent on what the model will actually see.
"""

from __future__ import annotations

import re

MASK = "[REDACTED]"

_SECRET_WORDS = (
    r"passwords?|passwd|pwd|pass|secret|client[_-]?secret|secret[_-]?key|tokens?|access[_-]?token|"
    r"refresh[_-]?token|auth[_-]?token|api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?|"
    r"aws[_-]?secret[_-]?access[_-]?key|private[_-]?key|credentials?"
)

_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL
)
_AUTH_HEADER = re.compile(r"\b(Bearer|Basic)(\s+)[A-Za-z0-9\-._~+/]{6,}=*", re.IGNORECASE)
_KEY_VALUE = re.compile(
    rf"(?i)(\b(?:\w*?_)?(?:{_SECRET_WORDS})\b[\"']?\s*(?:=>|[:=])\s*)([\"']?)([^\s\"'`,;}}\]]+)(\2)"
)
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:)([^\s@/]+)(@)", re.IGNORECASE)
_TOKEN_SHAPES = re.compile(
    r"\b(?:"
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}"  # AWS access key ids
    r"|sk-[A-Za-z0-9_\-]{16,}"  # OpenAI-style keys
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|AIza[0-9A-Za-z\-_]{35}"  # Google API keys
    r"|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"  # JWTs
    r")\b"
)


def redact(text: str) -> str:
    if not text:
        return text
    text = _PRIVATE_KEY_BLOCK.sub(MASK, text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(4)}", text)
    return _TOKEN_SHAPES.sub(MASK, text)
