"""Local stack of real servers (NATS, ValKey, Neo4j, Ray, simulator, services) for dev and tests."""
