"""Run every service's Alembic migrations: ``python -m devstack.migrate`` (docker-compose's one-shot
``migrate`` step; each ``<SERVICE>_DATABASE_URL`` must be set there)."""

from __future__ import annotations

import argparse
import os

from devstack.postgres import SERVICES
from shared.migrate import downgrade, upgrade


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("services", nargs="*", default=list(SERVICES))
    parser.add_argument("--revision", default="head")
    parser.add_argument("--downgrade", action="store_true", help="downgrade to --revision instead")
    args = parser.parse_args(argv)
    for service in args.services:
        url = os.environ.get(f"{service.upper()}_DATABASE_URL")
        if not url:
            raise SystemExit(f"{service.upper()}_DATABASE_URL is not set")
        (downgrade if args.downgrade else upgrade)(service, url, args.revision)
        print(f"{service}: migrated to {args.revision}")


if __name__ == "__main__":
    main()
