"""The local broker of `./dev run`, the tests and the benchmarks chooses its KRaft controller port
itself. Another process can take that port between the choice and the broker's bind (CI saw it:
"Socket server failed to bind ... Address already in use"); a fresh broker then starts on another
port, and a restarted one keeps the port its log was formatted with."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from devstack.kafka import KafkaStartError, LocalKafka


def test_a_fresh_broker_whose_chosen_controller_port_is_taken_starts_on_another(tmp_path: Path) -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    broker = LocalKafka(tmp_path / "kafka", heap="256m")
    broker.controller_port = taken  # as if another process bound it right after free_port() chose it
    try:
        broker.start()
        assert broker.controller_port != taken
        assert "Address already in use" not in "\n".join(broker.log_tail)
        with socket.create_connection(("127.0.0.1", broker.broker_port), timeout=5):
            pass
        assert (tmp_path / "kafka" / "controller.port").read_text() == str(broker.controller_port)

        # a restart on the same log, by a new process that would choose afresh, keeps the port
        broker.stop()
        again = LocalKafka(tmp_path / "kafka", broker_port=broker.broker_port, heap="256m")
        assert again.controller_port == broker.controller_port
        again.start()
        again.stop()
    finally:
        broker.kill()
        squatter.close()


def test_a_port_the_operator_chose_is_not_changed_behind_their_back(tmp_path: Path) -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    broker = LocalKafka(tmp_path / "kafka", controller_port=taken, heap="256m")
    try:
        with pytest.raises(KafkaStartError, match="Address already in use"):
            broker.start(timeout=60)
        assert broker.controller_port == taken
    finally:
        broker.kill()
        squatter.close()
