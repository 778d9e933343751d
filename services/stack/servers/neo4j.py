"""Neo4j 5.26 Community, embedded behind the project's Bolt launcher, on Java 17."""

import shutil
from pathlib import Path

from services.stack.config import StackConfig
from services.stack.servers.base import Health, Launch, Server, StackError, base_env
from services.stack.servers.neo4j_build import classpath, ensure_built


class Neo4j(Server):
    name = "neo4j"
    ready_line = "READY"
    slow = True

    def port(self, cfg: StackConfig) -> int:
        return cfg.neo4j_bolt_port

    def launch(self, cfg: StackConfig, log: Path) -> Launch:
        built = ensure_built(cfg, log.with_name("neo4j-build.log"))
        java = shutil.which("java")
        if java is None:
            raise StackError("neo4j: java not found on PATH (Java 17 is required)")
        argv = [
            java, "-Xms1g", "-Xmx2g", "-XX:+UseParallelGC",
            "-cp", classpath(cfg),
            "conclave.stack.ConclaveNeo4j",
            str(self.data_dir(cfg)), str(cfg.neo4j_bolt_port), str(cfg.path("logs", "neo4j-internal")),
        ]  # fmt: skip
        note = "launcher built" if built else ""
        return Launch(argv, base_env(NEO4J_PASSWORD=cfg.neo4j_password), note=note)

    def probe(self, cfg: StackConfig) -> Health:
        # Imported here: the `conclave` CLI of a service image that has no Neo4j driver still loads.
        import neo4j
        from neo4j.exceptions import Neo4jError

        uri = f"bolt://127.0.0.1:{cfg.neo4j_bolt_port}"
        try:
            with neo4j.GraphDatabase.driver(
                uri,
                auth=(cfg.neo4j_user, cfg.neo4j_password),
                connection_timeout=2,
                max_transaction_retry_time=0,
            ) as driver:
                driver.execute_query("RETURN 1")
                records = driver.execute_query("CALL dbms.components()").records
        except (Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
            return Health(False, detail=str(exc) or type(exc).__name__)
        versions = [f"{r['versions'][0]} {r['edition']}" for r in records]
        return Health(True, version=", ".join(versions))
