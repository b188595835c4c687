"""Both space directories over HTTP, the cache in front of them, and its hook into the pull cache."""

from __future__ import annotations

import pytest

from mana.adapters.incremental_reader import IncrementalReader
from mana.adapters.memory import FixedClock
from mana.adapters.space_cache import CachingSpaceDirectory
from mana.adapters.spaces_http import BearerSpaceDirectory, ServiceKeySpaceDirectory
from mana.adapters.standins.fake_mana_sync import FakeManaSync
from mana.application.errors import SpacesUnavailable
from mana.application.ports import Caller
from mana.domain.spaces import Space

from .support import browser_insert, browser_push, titles

pytestmark = pytest.mark.integration


@pytest.fixture
def alice(auth) -> Caller:
    auth.add_space("org_7Hq2", "Anna", type="personal", members=[("u_alice", "owner")])
    auth.add_space(
        "org_Fm41",
        "Familie Berg",
        type="family",
        metadata_as_string=True,
        members=[("u_alice", "member"), ("u_bob", "owner")],
    )
    auth.add_space("org_odd", "Odd", type="spaceship", members=[("u_alice", "admin")])
    return Caller("u_alice", auth.mint("u_alice"))


@pytest.fixture
def by_service_key(client, auth_url, auth, observer) -> ServiceKeySpaceDirectory:
    return ServiceKeySpaceDirectory(client, auth_url, auth.service_key, observer)


@pytest.fixture
def by_bearer(client, auth_url, observer) -> BearerSpaceDirectory:
    return BearerSpaceDirectory(client, auth_url, observer)


async def test_memberships_by_service_key_give_ids_and_roles_only(by_service_key, alice, auth, observer):
    spaces = await by_service_key.spaces(alice)
    assert spaces == [
        Space("org_7Hq2", "", None, None, "owner"),
        Space("org_Fm41", "", None, None, "member"),
        Space("org_odd", "", None, None, "admin"),
    ]
    headers = auth.last_headers["memberships"]
    assert headers["x-service-key"] == auth.service_key
    assert headers["x-app-id"] == "mana-mcp"
    assert "authorization" not in headers
    assert observer.labels[("auth_spaces", "200")] == 1


async def test_a_user_without_memberships_has_no_spaces(by_service_key, auth):
    assert await by_service_key.spaces(Caller("u_nobody", auth.mint("u_nobody"))) == []


async def test_a_wrong_service_key_is_unavailable_not_empty(client, auth_url, observer, alice):
    directory = ServiceKeySpaceDirectory(client, auth_url, "wrong-key", observer)
    with pytest.raises(SpacesUnavailable) as raised:
        await directory.spaces(alice)
    assert raised.value.reason == "HTTP 401"
    assert "wrong-key" not in repr(directory)


async def test_the_stock_organization_list_refuses_bearer_tokens(by_bearer, alice):
    with pytest.raises(SpacesUnavailable) as raised:
        await by_bearer.spaces(alice)
    assert raised.value.reason == "HTTP 401"


async def test_an_organization_list_that_accepts_the_jwt_gives_names_and_types(by_bearer, alice, auth):
    auth.accept_bearer_org_list = True
    spaces = await by_bearer.spaces(alice)
    assert spaces == [
        Space("org_7Hq2", "Anna", "org_7Hq2", "personal", None),
        Space("org_Fm41", "Familie Berg", "org_Fm41", "family", None),  # metadata was a JSON string
        Space("org_odd", "Odd", "org_odd", None, None),  # unknown type: never treated as personal
    ]
    assert auth.last_headers["organization_list"]["authorization"] == f"Bearer {alice.token}"


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_timeouts_and_refusals_are_unavailable(
    client, auth_url, closed_url, observer, alice, auth, by_service_key, status
):
    auth.spaces_status = status
    with pytest.raises(SpacesUnavailable) as failed:
        await by_service_key.spaces(alice)
    assert failed.value.reason == f"HTTP {status}"
    auth.spaces_status = None
    auth.latency_s = 0.3
    slow = ServiceKeySpaceDirectory(client, auth_url, auth.service_key, observer, total_timeout_s=0.1)
    with pytest.raises(SpacesUnavailable) as timed_out:
        await slow.spaces(alice)
    assert timed_out.value.reason == "timeout"
    with pytest.raises(SpacesUnavailable) as refused:
        await BearerSpaceDirectory(client, closed_url, observer).spaces(alice)
    assert refused.value.reason == "connection failed"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def sync(auth, clock) -> FakeManaSync:
    """mana-sync on the test's clock, so that rows can be older than the pull cache's overlap."""
    return FakeManaSync(auth.jwks, auth.memberships, clock=clock.now)


async def test_a_new_membership_refetches_once_and_resets_the_pull_cache(
    by_service_key, change_log, alice, auth, sync, clock
):
    reader = IncrementalReader(change_log, clock=clock)
    spaces = CachingSpaceDirectory(by_service_key, clock, on_change=reader.memberships_changed)
    auth.add_space("org_club", "Club", type="club", members=[("u_bob", "owner")])
    browser_push(sync, "u_bob", [browser_insert("h_club", "Club run", space="org_club")])
    clock.advance(60.0)

    assert not await spaces.is_member(alice, "org_club")
    assert titles(await reader.read(alice, "habits", "habits")) == {}
    auth.add_member("u_alice", "org_club")  # Bob invites Alice; his row predates her cursor
    clock.advance(10.0)
    assert not await spaces.is_member(alice, "org_club")  # a young entry is trusted
    assert auth.membership_calls == 1
    assert titles(await reader.read(alice, "habits", "habits")) == {}
    clock.advance(25.0)
    assert await spaces.is_member(alice, "org_club")  # older than 30 s: refetched once
    assert auth.membership_calls == 2
    assert titles(await reader.read(alice, "habits", "habits")) == {"h_club": "Club run"}
