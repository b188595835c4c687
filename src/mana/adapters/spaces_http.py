"""The caller's spaces from mana-auth: the internal memberships endpoint or the organization list.

With ``MANA_SERVICE_KEY`` the gateway asks the internal endpoint (authoritative ids and roles, no
names or types, mana-auth.md §6); without it, the organization list with the caller's JWT (names
and types, no roles, §5.1), which the stock mana-auth refuses to bearer tokens. Every failure,
a 401 included, is :class:`~mana.application.errors.SpacesUnavailable`: the gateway then answers
503, because an outage or a misconfiguration must not look like "not a member".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from mana.adapters.http_client import (
    TOTAL_TIMEOUT_S,
    TransportFailure,
    join_url,
    send_timed,
    upstream_request,
)
from mana.application.errors import SpacesUnavailable
from mana.application.ports import Caller, UpstreamObserver
from mana.domain.spaces import Space, space_type

log = logging.getLogger(__name__)

MEMBERSHIPS_PATH = "/api/v1/internal/users/{user_id}/memberships"
ORGANIZATIONS_PATH = "/api/auth/organization/list"
APP_ID = "mana-mcp"


async def _get_json(
    client: httpx.AsyncClient,
    url: httpx.URL | str,
    headers: dict[str, str],
    observer: UpstreamObserver,
    timeout_s: float,
) -> Any:
    request = upstream_request("GET", url, headers)
    try:
        response = await send_timed(
            client, request, upstream="auth_spaces", observer=observer, total_timeout_s=timeout_s
        )
    except TransportFailure as exc:
        log.warning("mana-auth space lookup failed: %s", exc.reason)
        raise SpacesUnavailable(exc.reason) from None
    if response.status_code != 200:
        log.warning("mana-auth space lookup answered HTTP %d", response.status_code)
        raise SpacesUnavailable(f"HTTP {response.status_code}")
    try:
        return json.loads(response.content)
    except ValueError:
        raise SpacesUnavailable("invalid response") from None


class ServiceKeySpaceDirectory:
    """Memberships by user id with the service key (names ``""``, types unknown, roles given)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        auth_url: str,
        service_key: str,
        observer: UpstreamObserver,
        *,
        total_timeout_s: float = TOTAL_TIMEOUT_S,
    ) -> None:
        self._client = client
        self._base = auth_url
        self._headers = {"X-Service-Key": service_key, "X-App-Id": APP_ID}
        self._observer = observer
        self._timeout = total_timeout_s

    def __repr__(self) -> str:  # the service key must never show up in a log or traceback
        return f"ServiceKeySpaceDirectory({self._base!r})"

    async def spaces(self, caller: Caller) -> Sequence[Space]:
        url = join_url(self._base, MEMBERSHIPS_PATH.format(user_id=quote(caller.user_id, safe="")))
        body = await _get_json(self._client, url, self._headers, self._observer, self._timeout)
        memberships = body.get("memberships") if isinstance(body, dict) else None
        if not isinstance(memberships, list):
            raise SpacesUnavailable("invalid response")
        spaces: list[Space] = []
        seen: set[str] = set()
        for item in memberships:
            if not isinstance(item, dict):
                continue
            org_id = item.get("organizationId")
            if not isinstance(org_id, str) or not org_id or org_id in seen:
                continue
            seen.add(org_id)
            role = item.get("role")
            spaces.append(Space(id=org_id, name="", type=None, role=role if isinstance(role, str) else None))
        return spaces


class BearerSpaceDirectory:
    """The organization list with the caller's JWT (for mana-auths that accept it there)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        auth_url: str,
        observer: UpstreamObserver,
        *,
        total_timeout_s: float = TOTAL_TIMEOUT_S,
    ) -> None:
        self._client = client
        self._url = httpx.URL(join_url(auth_url, ORGANIZATIONS_PATH))
        self._observer = observer
        self._timeout = total_timeout_s

    async def spaces(self, caller: Caller) -> Sequence[Space]:
        headers = {"Authorization": f"Bearer {caller.token}"}
        body = await _get_json(self._client, self._url, headers, self._observer, self._timeout)
        if not isinstance(body, list):
            raise SpacesUnavailable("invalid response")
        spaces: list[Space] = []
        seen: set[str] = set()
        for item in body:
            if not isinstance(item, dict):
                continue
            org_id = item.get("id")
            if not isinstance(org_id, str) or not org_id or org_id in seen:
                continue
            seen.add(org_id)
            name = item.get("name")
            slug = item.get("slug")
            spaces.append(
                Space(
                    id=org_id,
                    name=name if isinstance(name, str) else "",
                    slug=slug if isinstance(slug, str) else None,
                    type=space_type(_metadata(item.get("metadata")).get("type")),
                    role=None,
                )
            )
        return spaces


def _metadata(value: object) -> dict[str, Any]:
    """``metadata`` is an object, a JSON string encoding one, or null (mana-auth.md §5.1)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}
