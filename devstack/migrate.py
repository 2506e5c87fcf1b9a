"""Alias of ``python -m shared.migrate``, kept while deployments still call ``python -m devstack.migrate``;
the migration CLI lives in shared.migrate, since production must not run devstack code."""

from shared.migrate import main

if __name__ == "__main__":
    main()
