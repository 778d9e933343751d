"""Build the embedded-Neo4j launcher once into a cache dir shared by every checkout.

Maven resolves org.neo4j:neo4j from its configured default repository, so the first
build downloads ~120 MB of jars and takes minutes; later runs reuse the cached jar.
Each version of the launcher sources builds into its own dir (named by their hash), so
a rebuild never deletes jars under a Neo4j that another stack is still running.
"""

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path

from services.stack.config import StackConfig
from services.stack.process import tail
from services.stack.servers.base import StackError

NEO4J_VERSION = "5.26.30"
SOURCE_DIR = Path(__file__).resolve().parents[1] / "neo4j"


def _source_files() -> list[Path]:
    return [SOURCE_DIR / "pom.xml", *sorted((SOURCE_DIR / "src").rglob("*.java"))]


def source_hash() -> str:
    digest = hashlib.sha256()
    for path in _source_files():
        digest.update(path.relative_to(SOURCE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_dir(cfg: StackConfig) -> Path:
    return cfg.cache_dir / f"neo4j-{NEO4J_VERSION}"


def project_dir(cfg: StackConfig) -> Path:
    return build_dir(cfg) / f"launcher-{source_hash()}"


def classpath(cfg: StackConfig) -> str:
    target = project_dir(cfg) / "target"
    return f"{target / 'conclave-neo4j.jar'}:{target / 'lib'}/*"


def ensure_built(cfg: StackConfig, log: Path) -> bool:
    """Build when the cache is missing or stale; True when a build ran."""
    root = build_dir(cfg)
    root.mkdir(parents=True, exist_ok=True)
    project = project_dir(cfg)
    stamp = project / "built"
    # Two stacks starting at once (e.g. parallel test sessions) must not build into the same dir.
    with open(root / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            return False
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir()
        shutil.copy2(SOURCE_DIR / "pom.xml", project / "pom.xml")
        shutil.copytree(SOURCE_DIR / "src", project / "src")
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError("neo4j: mvn not found on PATH (Maven is needed once to build the launcher)")
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            try:
                done = subprocess.run(
                    [mvn, "-q", "-B", "package"],
                    cwd=project,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=cfg.build_timeout,
                )
            except subprocess.TimeoutExpired:
                raise StackError(
                    f"neo4j: build timed out after {cfg.build_timeout}s; log {log}:\n{tail(log)}"
                ) from None
        if done.returncode != 0:
            raise StackError(f"neo4j: mvn package failed; log {log}:\n{tail(log)}")
        stamp.touch()
        return True
