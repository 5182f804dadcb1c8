"""Fixtures for the report tests: the real team key and people's keys of the embargo
tests, so mail to and from reporters is encrypted and decrypted by the real gpg."""

from tests.embargo.conftest import person_keys, team_key  # noqa: F401
