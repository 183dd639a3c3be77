from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.kernel import rabbitmq


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A RabbitMQ URL: ONESTACK_TEST_AMQP_URL if set, else a private node for this session."""
    external = os.environ.get("ONESTACK_TEST_AMQP_URL")
    if external:
        yield external
        return
    broker = _start_private_broker()
    try:
        yield broker.url
    finally:
        rabbitmq.stop(broker)


def _start_private_broker() -> rabbitmq.PrivateBroker:
    try:
        return rabbitmq.start()
    except rabbitmq.BrokerStartError as exc:
        reason = str(exc)
    # Failing outside the except block keeps the report to this one message.
    pytest.fail(f"cannot start a private RabbitMQ for the amqp tests: {reason}", pytrace=False)
