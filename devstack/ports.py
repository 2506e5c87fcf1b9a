"""The ports `./dev run` listens on, all derived from one base (CHILDCARE_PORT_BASE, default 8000),
and a free base for the tests and benchmarks that start the command beside another platform."""

from __future__ import annotations

import socket

from devstack.kafka import free_port

# filing 8001, inspection 8002, credit 8003, reporting 8004
SERVICE_PORT_OFFSETS = {"filing": 1, "inspection": 2, "credit": 3, "reporting": 4}
# the local OpenID Connect provider (devstack/oidc/), the issuer of the officers' sign-in
OIDC_PORT_OFFSET = 10
# --monitoring: Prometheus on 9090 and the lag exporter on 9308 (their usual ports), moved with the rest
PROMETHEUS_PORT_OFFSET = 1090
LAG_EXPORTER_PORT_OFFSET = 1308
RUN_PORT_OFFSETS = (*SERVICE_PORT_OFFSETS.values(), OIDC_PORT_OFFSET, PROMETHEUS_PORT_OFFSET, LAG_EXPORTER_PORT_OFFSET)


def free_port_block() -> int:
    """A base whose every derived port is free now. A port in the ephemeral range may be taken by
    any client socket meanwhile, so a base is tried whole, and another one when any port is held."""
    for _ in range(50):
        base = free_port() // 10 * 10 - 10
        try:
            for offset in RUN_PORT_OFFSETS:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise RuntimeError("no free block of ports")
