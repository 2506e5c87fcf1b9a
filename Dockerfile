# Image shared by every service (filing, inspection, credit, reporting) and the one-shot steps (migrate:
# python -m shared.migrate; kafka-setup: python -m shared.kafka_access provision).
# docker-compose.yml picks what runs through `command:`; this image deliberately has no default CMD.

# The browser libraries (web/vendor/ is not in git): Swagger UI for every service's /docs and ECharts
# for the pages, copied out of the npm packages pinned by web/package-lock.json exactly as
# `npm run vendor` does on a development machine. Install scripts are not run (none is needed).
FROM node:20-slim AS web-vendor
WORKDIR /web
COPY web/package.json web/package-lock.json web/vendor.mjs ./
# the 托育地图's district boundaries, made into vendor/gz-districts.js by vendor.mjs
COPY shared/reference_data/gz_district_boundaries.geojson /shared/reference_data/
RUN npm ci --ignore-scripts --no-audit --no-fund && node vendor.mjs

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Copy only what the package and its runtime need: not .venv, .git, tests, benches or the dev harness
# (devstack/: no service imports it, tests/unit/test_imports.py checks so).
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY deploy ./deploy
# /docs serves Swagger UI from /app/web/vendor/swagger-ui (shared/app.py DEFAULT_DOCS_ASSETS; off in
# production unless <SERVICE>_DOCS_ENABLED=true). The pages are in the image too, served at /ui/ only
# where a deployment sets FILING_WEB_DIR=/app/web (none of deploy/ does: see docs/security.md).
COPY web/*.html ./web/
COPY web/assets ./web/assets
COPY --from=web-vendor /web/vendor ./web/vendor

RUN pip install . \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

USER app

EXPOSE 8001 8002 8003 8004
