"""ValKey 8 (or Redis where ValKey is not installable), one in-memory instance."""

from pathlib import Path

from services.stack.config import StackConfig
from services.stack.servers.base import Health, Launch, Server, base_env
from services.stack.servers.valkey_install import find_or_install

FALLBACK_NOTE = "redis-server fallback (ValKey not installable)"


class Valkey(Server):
    name = "valkey"

    def port(self, cfg: StackConfig) -> int:
        return cfg.valkey_port

    def launch(self, cfg: StackConfig, log: Path) -> Launch:
        binary, fallback = find_or_install()
        argv = [
            binary,
            "--port", str(cfg.valkey_port),
            "--dir", str(self.data_dir(cfg)),
            "--save", "",
            "--appendonly", "no",
            "--bind", "127.0.0.1",
            "--daemonize", "no",
        ]  # fmt: skip
        return Launch(argv, base_env(), note=FALLBACK_NOTE if fallback else "")

    def probe(self, cfg: StackConfig) -> Health:
        import redis  # here: the `conclave` CLI of an image without the client still loads

        client = redis.Redis(host="127.0.0.1", port=cfg.valkey_port, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
            info = client.info("server")
        except redis.RedisError as exc:
            return Health(False, detail=str(exc))
        finally:
            client.close()
        if "valkey_version" in info:
            return Health(True, version=f"valkey {info['valkey_version']}")
        return Health(True, version=f"redis {info.get('redis_version', '?')}")
