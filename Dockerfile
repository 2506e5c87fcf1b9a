# Image shared by every service (filing, inspection, credit, reporting) and the one-shot steps (migrate:
# python -m shared.migrate; kafka-setup: python -m shared.kafka_access provision).
# docker-compose.yml picks what runs through `command:`; this image deliberately has no default CMD.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Copy only what the package and its runtime need: not .venv, .git, tests or benches.
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY devstack ./devstack
COPY deploy ./deploy

RUN pip install . \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

USER app

EXPOSE 8001 8002 8003 8004
