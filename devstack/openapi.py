"""Publish each service's OpenAPI document under ``docs/openapi/<service>.json``.

``python -m devstack.openapi --write`` regenerates them from the applications themselves; the test
suite fails when a committed document differs from what the running service serves.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

from devstack.postgres import SERVICES
from shared.db import Database

DOCS = Path(__file__).resolve().parent.parent / "docs" / "openapi"


def service_openapi(service: str) -> dict[str, Any]:
    """The document the service serves at /openapi.json (building it needs no database connection)."""
    settings_module = importlib.import_module(f"services.{service}.settings")
    settings_class = next(
        getattr(settings_module, name)
        for name in dir(settings_module)
        if name.endswith("Settings") and name != "ServiceSettings"
    )
    app_module = importlib.import_module(f"services.{service}.app")
    app = app_module.create_app(settings_class(run_background_workers=False), Database("postgresql://unused@/unused"))
    return dict(app.openapi())


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write docs/openapi/<service>.json")
    args = parser.parse_args(argv)
    DOCS.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        text = render(service_openapi(service))
        path = DOCS / f"{service}.json"
        if args.write:
            path.write_text(text)
        print(f"{service}: {len(json.loads(text)['paths'])} paths{' -> ' + str(path) if args.write else ''}")


if __name__ == "__main__":
    main()
