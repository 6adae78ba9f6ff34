"""The error <-> gRPC status <-> HTTP status table, read in both directions."""

from __future__ import annotations

import grpc
import pytest

from flowserve.errors import (
    BadRequestError,
    DeadlineExceededError,
    ExecutorError,
    OverloadedError,
    RequestError,
    UnavailableError,
)
from flowserve.wire.status import (
    ERRORS_BY_NAME,
    STATUSES,
    error_for_grpc_code,
    error_for_http_status,
    grpc_code_for,
    http_status_for,
    status_of,
)


@pytest.mark.parametrize("error, code, http", [
    (OverloadedError("x"), grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    (DeadlineExceededError("x"), grpc.StatusCode.DEADLINE_EXCEEDED, 504),
    (UnavailableError("x"), grpc.StatusCode.UNAVAILABLE, 503),
    (BadRequestError("x"), grpc.StatusCode.INVALID_ARGUMENT, 400),
    (ExecutorError("x"), grpc.StatusCode.INTERNAL, 500),
    (RequestError("x"), grpc.StatusCode.INTERNAL, 500),
])
def test_each_error_has_one_grpc_and_one_http_status(error, code, http):
    assert grpc_code_for(error) == code
    assert http_status_for(error) == http


def test_every_row_reads_back_to_its_error():
    for row in STATUSES:
        assert error_for_grpc_code(row.grpc_code) is row.error
        assert error_for_http_status(row.http_status) is row.error
        assert ERRORS_BY_NAME[row.error.__name__] is row.error
        assert status_of(row.error("x")) is row
    assert error_for_grpc_code(grpc.StatusCode.UNIMPLEMENTED) is None
    assert error_for_grpc_code(None) is None
    assert error_for_http_status(500) is None
    assert status_of(ValueError("x")) is None


def test_an_in_band_replica_lost_error_is_unavailable_for_the_client():
    """A request abandoned on a frozen replica, or lost twice, fails in-band on a `Call`
    stream as ReplicaLostError: the Client raises it as such (an UnavailableError), not as an
    executor's own exception."""
    from flowserve.client._callbacks import error_from_status
    from flowserve.errors import ReplicaLostError
    from flowserve.wire.request import DataRequest

    response = DataRequest.new()
    response.set_error("executor 'e' replica at h:1 was ejected …: abandoned",
                       name="ReplicaLostError")
    error = error_from_status(response)
    assert isinstance(error, ReplicaLostError) and isinstance(error, UnavailableError)
    assert "replica at h:1" in str(error)
