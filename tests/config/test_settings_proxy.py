"""HAULOUT_TRUSTED_PROXY_COUNT and HAULOUT_TRUSTED_CLIENT_IP_HEADER, as the settings
module maps them onto allauth's, read in a fresh interpreter for each environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json
import django
django.setup()
from allauth import app_settings
print(json.dumps([app_settings.TRUSTED_PROXY_COUNT, app_settings.TRUSTED_CLIENT_IP_HEADER]))
"""


def _allauth_proxy_settings(tmp_path, **environment) -> list:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "HAULOUT_", "ALLAUTH_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "HAULOUT_VAR_DIR": str(tmp_path / "var"),
            **environment,
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "environment,expected",
    [
        ({}, [0, None]),
        # A header is never read unless a proxy of ours is there to overwrite it.
        ({"HAULOUT_TRUSTED_CLIENT_IP_HEADER": "X-Real-IP"}, [0, None]),
        ({"HAULOUT_TRUSTED_PROXY_COUNT": "1"}, [1, None]),
        ({"HAULOUT_TRUSTED_PROXY_COUNT": "2"}, [2, None]),
        (
            {"HAULOUT_TRUSTED_PROXY_COUNT": "1", "HAULOUT_TRUSTED_CLIENT_IP_HEADER": "X-Real-IP"},
            [0, "X-Real-IP"],
        ),
    ],
    ids=["default", "header-without-proxy", "one-proxy", "two-proxies", "own-header"],
)
def test_the_trusted_proxy_settings_reach_allauth(tmp_path, environment, expected):
    assert _allauth_proxy_settings(tmp_path, **environment) == expected
