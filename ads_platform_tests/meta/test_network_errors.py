"""A host that cannot be reached is a network failure, reported as such and retried once.

No internet is needed: names under the reserved ``.invalid`` TLD (RFC 2606) never
resolve, and a loopback port nobody listens on refuses at once.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator

import pytest

from ads_platform.ingestion.causes import Cause, cause_of
from ads_platform.ingestion.failures import describe
from ads_platform.meta import ErrorKind, GraphClient, NetworkError, TransientError

from .helpers import FakeTime

TOKEN = "EAAnetworkTOKEN" + "n" * 40
UNRESOLVABLE = "graph.facebook.invalid"


def closed_loopback_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (so connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def unresolvable(clock: FakeTime) -> Iterator[GraphClient]:
    with GraphClient(
        access_token=TOKEN,
        base_url=f"https://{UNRESOLVABLE}",
        max_retries=5,
        sleep=clock.sleep,
        clock=clock.monotonic,
    ) as client:
        yield client


def test_the_invalid_tld_does_not_resolve_on_this_machine() -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(UNRESOLVABLE, 443)


def test_a_dns_failure_is_a_network_error_retried_at_most_once(
    unresolvable: GraphClient, clock: FakeTime
) -> None:
    with pytest.raises(NetworkError) as info:
        unresolvable.get_account("act_1")
    error = info.value
    assert error.kind is ErrorKind.NETWORK and str(error.kind) == "network"
    assert (error.reason, error.host, error.loopback) == ("dns", UNRESOLVABLE, False)
    assert unresolvable.stats.for_account("act_1")["totals"]["calls"] == 2  # 1 retry, not 5
    assert error.retries == 1
    assert len(clock.sleeps) == 1
    assert str(error).startswith(f"cannot reach {UNRESOLVABLE} (DNS / network): ")
    assert "after 2 attempts" in str(error)
    assert TOKEN not in str(error)


def test_a_dns_failure_is_described_as_network_not_as_token_or_api(
    unresolvable: GraphClient,
) -> None:
    with pytest.raises(NetworkError) as info:
        list(unresolvable.iter_insights("act_1", dt.date(2026, 1, 1), dt.date(2026, 1, 7)))
    kind, message = describe(info.value, account_id="act_1", token_env="META_TOKEN")
    assert kind == "network"
    assert cause_of(kind) is Cause.NETWORK
    assert message.startswith(f"act_1: cannot reach {UNRESOLVABLE} (DNS / network): ")
    assert "name resolution failed" in message
    assert "check the network and DNS" in message
    assert "token" not in message.lower()


def test_a_refused_loopback_connection_says_nothing_listens_there(clock: FakeTime) -> None:
    port = closed_loopback_port()
    with GraphClient(
        access_token=TOKEN,
        base_url=f"http://127.0.0.1:{port}",
        max_retries=5,
        sleep=clock.sleep,
        clock=clock.monotonic,
    ) as client:
        with pytest.raises(NetworkError) as info:
            client.get("act_1/campaigns")
        assert client.stats.for_account("act_1")["totals"]["calls"] == 2
    error = info.value
    assert (error.reason, error.loopback, error.port) == ("refused", True, port)
    kind, message = describe(error, account_id="act_1", token_env=None)
    assert kind == "network"
    assert f"cannot reach 127.0.0.1:{port} (connection refused" in message
    assert "sandbox" in message
    assert "graph.facebook.com" not in message  # the message names the host it tried


def test_a_network_error_stays_a_retryable_transient_error() -> None:
    error = NetworkError("boom", host="graph.facebook.com", reason="unreachable")
    assert isinstance(error, TransientError) and error.is_transient
    assert "the network is unreachable" in str(error)
    assert error.to_dict()["kind"] == "network"
