"""The leak tests send notices, so they start from the embargo tests' healthy worker."""

from tests.embargo.conftest import _healthy_worker

__all__ = ["_healthy_worker"]
