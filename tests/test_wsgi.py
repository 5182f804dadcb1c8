"""The web process's entry point."""

from __future__ import annotations

import gc
import importlib
import sys


def test_loading_the_wsgi_application_keeps_its_objects_out_of_full_collections():
    sys.modules.pop("config.wsgi", None)
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        wsgi = importlib.import_module("config.wsgi")

        assert callable(wsgi.application)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
