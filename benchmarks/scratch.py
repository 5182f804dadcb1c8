"""What the benchmarks share: a scratch database for a run, and a Django set up on it
in-process (for the benchmarks that need no worker)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def scratch_database() -> tuple[str, callable]:
    """A fresh database for the run, and a function that removes it."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        import psycopg

        parts = urlsplit(url)
        name = f"{parts.path.lstrip('/') or 'haulout'}_bench_{os.getpid()}"
        admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop():
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", "")), drop
    path = Path(tempfile.mkdtemp(prefix="haulout-bench-")) / "bench.sqlite3"

    def remove():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    return f"sqlite:///{path}", remove


def django_scratch_run(run: Callable[[], int], *, var_dir: Path) -> int:
    """Sets Django up on a scratch database with the embedded defaults (memory broker,
    no HTTPS), calls run(), then closes the connections and drops the database."""
    database_url, drop_database = scratch_database()
    var_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECURE": "0",
            "DJANGO_SECRET_KEY": "benchmark-only-" + uuid.uuid4().hex * 2,
            "HAULOUT_VAR_DIR": str(var_dir),
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": "memory://",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    try:
        return run()
    finally:
        from django.db import connections

        connections.close_all()
        drop_database()
