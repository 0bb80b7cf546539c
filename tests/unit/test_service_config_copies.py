"""The service config the client package ships is the one published in deploy/."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

PUBLISHED = Path(__file__).resolve().parents[2] / "deploy" / "grpc" / "service_config.json"


def test_the_client_ships_the_published_service_config_unchanged() -> None:
    shipped = resources.files("textlens").joinpath("grpc-service-config.json").read_bytes()
    assert shipped == PUBLISHED.read_bytes()
    json.loads(shipped)  # and it is JSON
