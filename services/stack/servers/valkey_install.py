"""Install ValKey 8 from the distribution's backports suite, or Redis where that fails.

The apt source is derived from the machine's own apt configuration (the mirror that
already serves the base suite), so no host name is ever written into the repo.
"""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from services.stack.servers.base import StackError

SOURCES_DIR = Path("/etc/apt/sources.list.d")
OUR_SOURCE = SOURCES_DIR / "conclave-backports.sources"


@dataclass
class AptEntry:
    uri: str
    suites: list[str]
    signed_by: str = ""


def codename(os_release: Path = Path("/etc/os-release")) -> str:
    for line in os_release.read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    raise StackError(f"no VERSION_CODENAME in {os_release}")


def deb822_entries(text: str) -> list[AptEntry]:
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            for uri in fields.get("uris", "").split():
                entries.append(AptEntry(uri, fields.get("suites", "").split(), fields.get("signed-by", "")))
    return entries


def one_line_entries(text: str) -> list[AptEntry]:
    entries = []
    for line in text.splitlines():
        match = re.match(r"\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)", line)
        if match:
            options, uri, suite = match.groups()
            signed = re.search(r"signed-by=(\S+)", options or "")
            entries.append(AptEntry(uri, [suite], signed.group(1) if signed else ""))
    return entries


def existing_entries(etc_apt: Path = Path("/etc/apt")) -> list[AptEntry]:
    entries: list[AptEntry] = []
    for path in sorted((etc_apt / "sources.list.d").glob("*.sources")):
        if path.name != OUR_SOURCE.name:
            entries += deb822_entries(path.read_text())
    for path in [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*.list"))]:
        if path.exists():
            entries += one_line_entries(path.read_text())
    return entries


def backports_source(entries: list[AptEntry], base: str) -> str:
    """The deb822 stanza for <base>-backports on the mirror that serves <base>."""
    for entry in entries:
        if base in entry.suites:
            lines = ["Types: deb", f"URIs: {entry.uri}", f"Suites: {base}-backports", "Components: main"]
            if entry.signed_by:
                lines.append(f"Signed-By: {entry.signed_by}")
            return "\n".join(lines) + "\n"
    raise StackError(f"no apt source serves the base suite {base!r}; cannot derive backports")


def _apt(*args: str) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    done = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).splitlines()[-30:]
        raise StackError(f"apt-get {' '.join(args)} failed:\n" + "\n".join(lines))


def install_valkey() -> None:
    base = codename()
    source = backports_source(existing_entries(), base)
    if not OUR_SOURCE.exists() or OUR_SOURCE.read_text() != source:
        OUR_SOURCE.write_text(source)
    _apt("update")
    _apt("install", "-y", "-t", f"{base}-backports", "valkey-server")


def find_or_install() -> tuple[str, bool]:
    """(server binary, is_redis_fallback). Installs only when running as root."""
    for name, fallback in (("valkey-server", False), ("redis-server", True)):
        found = shutil.which(name)
        if found:
            return found, fallback
    if os.geteuid() != 0:
        raise StackError("valkey-server is not installed and installing needs root: run `conclave stack up` as root")
    try:
        install_valkey()
    except (StackError, OSError, subprocess.SubprocessError) as exc:
        print(f"ValKey not installable, falling back to redis-server: {exc}")
        _apt("install", "-y", "redis-server")
    for name, fallback in (("valkey-server", False), ("redis-server", True)):
        found = shutil.which(name)
        if found:
            return found, fallback
    raise StackError("neither valkey-server nor redis-server is available after apt-get install")
