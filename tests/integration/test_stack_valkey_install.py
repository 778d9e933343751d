"""Deriving the backports apt source from the machine's own apt configuration."""

from pathlib import Path

import pytest

from services.stack.servers import valkey_install
from services.stack.servers.base import StackError

DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_backports_source_reuses_the_base_suite_mirror_and_key() -> None:
    source = valkey_install.backports_source(valkey_install.deb822_entries(DEB822), "bookworm")
    assert source == (
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm-backports\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )


def test_one_line_sources_are_understood(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# deb http://old.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\n"
    )
    entries = valkey_install.existing_entries(tmp_path)
    assert "URIs: http://mirror.example/debian\n" in valkey_install.backports_source(entries, "bookworm")
    assert "Signed-By: /k.gpg" in valkey_install.backports_source(entries, "bookworm")


def test_no_base_suite_is_an_error_not_a_guess() -> None:
    with pytest.raises(StackError):
        valkey_install.backports_source(valkey_install.deb822_entries(DEB822), "trixie")


def test_codename_comes_from_os_release(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('NAME="Debian GNU/Linux"\nVERSION_CODENAME=bookworm\n')
    assert valkey_install.codename(release) == "bookworm"
