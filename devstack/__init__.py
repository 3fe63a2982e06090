"""Starts the embedded services (PostgreSQL, redis-server + FalkorDB) that no server URL configures, and supervises
`make run` / `make test`. See devstack/__main__.py."""
