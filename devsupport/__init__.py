"""Support for development: test keys and a bulk world, shared by tests/ and benchmarks/.
Not shipped (pyproject.toml packages leave it out)."""
