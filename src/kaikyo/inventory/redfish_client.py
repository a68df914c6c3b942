"""The Redfish transport: DMTF's ``redfish`` library (python-redfish-library) over HTTP(S).

Failures never abort a discovery of many BMCs: an unreachable BMC or refused credentials
becomes a ``rated`` row whose note says what happened, so one dead BMC does not hide the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import redfish
from redfish.rest.v1 import (
    InvalidCredentialsError,
    RetriesExhaustedError,
    ServerDownOrUnreachableError,
)

from kaikyo.clock import SYSTEM_CLOCK
from kaikyo.inventory.readings import InventoryRow, rated_row, rows_from_service, sampled_rows


class _LibraryGetter:
    def __init__(self, client: Any) -> None:
        self._client = client

    def get(self, path: str) -> Mapping[str, Any] | None:
        response = self._client.get(path.split("#", maxsplit=1)[0])
        if response.status in (401, 403):
            raise InvalidCredentialsError(response.status)
        if response.status != 200:
            return None
        body = response.dict
        return body if isinstance(body, Mapping) else None


def discover(
    url: str,
    user: str | None,
    password: str | None,
    rated: tuple[float, float],
    timeout_s: float = 10.0,
    sample_s: float = 0.0,
    interval_s: float = 10.0,
) -> list[InventoryRow]:
    """Rows for every chassis behind the BMC at ``url`` (never raises for BMC failures);
    with ``sample_s``, its power read every ``interval_s`` for that long."""
    bmc = urlsplit(url).netloc or url
    try:
        client = redfish.redfish_client(
            base_url=url,
            username=user or "",
            password=password or "",
            default_prefix="/redfish/v1",
            timeout=timeout_s,
            max_retry=1,
        )
    except (RetriesExhaustedError, ServerDownOrUnreachableError) as exc:
        return [rated_row(bmc, bmc, f"BMC unreachable ({type(exc).__name__})", rated)]
    try:
        if user:
            client.login(auth="basic")
        getter = _LibraryGetter(client)
        if sample_s > 0:
            clock = SYSTEM_CLOCK
            return sampled_rows(
                getter, bmc, rated, sample_s, interval_s, clock.monotonic, clock.sleep
            )
        return rows_from_service(getter, bmc, rated)
    except InvalidCredentialsError:
        return [rated_row(bmc, bmc, "the BMC refused the credentials (HTTP 401)", rated)]
    except (RetriesExhaustedError, ServerDownOrUnreachableError) as exc:
        return [rated_row(bmc, bmc, f"BMC stopped answering ({type(exc).__name__})", rated)]
    finally:
        client.logout()
