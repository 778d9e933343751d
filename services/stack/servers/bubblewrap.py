"""bubblewrap, the sandbox that execution checks run candidates' code in: a Debian package,
installed with apt from the machine's own sources, like ValKey."""

import os
import shutil
import subprocess

from services.stack.servers.base import StackError
from services.stack.servers.valkey_install import _apt

PACKAGES = ("bubblewrap", "util-linux")


def find_or_install() -> str:
    """The bwrap binary; installs the package when running as root. StackError says why not."""
    found = shutil.which("bwrap")
    if found:
        return found
    if os.geteuid() != 0:
        raise StackError("bubblewrap is not installed and installing needs root: apt-get install bubblewrap")
    try:
        _apt("install", "-y", "--no-install-recommends", *PACKAGES)
    except StackError:
        # A fresh machine may never have fetched the package lists.
        _apt("update")
        _apt("install", "-y", "--no-install-recommends", *PACKAGES)
    except (OSError, subprocess.SubprocessError) as exc:
        raise StackError(f"apt-get install bubblewrap failed: {exc}") from exc
    found = shutil.which("bwrap")
    if not found:
        raise StackError("bwrap is not on PATH after apt-get install bubblewrap")
    return found
