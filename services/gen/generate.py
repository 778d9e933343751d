"""Generate the gRPC Python code (with .pyi stubs) from protos/ into services.gen.

`-Iservices/gen=protos` maps the protos under the services.gen package, so the
generated modules import each other as `services.gen.fleet...` with no sys.path tricks.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"


def generate(out: Path = ROOT) -> None:
    sources = sorted(p.relative_to(PROTOS) for p in PROTOS.rglob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-Iservices/gen={PROTOS}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *[f"services/gen/{src}" for src in sources],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for src in sources:
        package = out / "services" / "gen" / src.parent
        while package != out / "services":
            (package / "__init__.py").touch()
            package = package.parent


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
