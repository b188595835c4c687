"""``bind_sockets``: one listening socket per worker on one port, or the one socket there is."""

from __future__ import annotations

import socket

import pytest

from mana.entrypoints.serving import bind_socket, bind_sockets


def test_one_worker_gets_one_plain_socket() -> None:
    (sock,) = bind_sockets("127.0.0.1", 0, 1)
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0
    finally:
        sock.close()


def test_several_workers_get_sockets_of_one_reuseport_group_on_one_port() -> None:
    socks = bind_sockets("127.0.0.1", 0, 3)
    try:
        assert len(socks) == 3
        assert len({s.getsockname()[1] for s in socks}) == 1  # port 0: all joined the first's port
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1 for s in socks)
    finally:
        for s in socks:
            s.close()


def test_a_port_held_by_another_listener_is_refused_and_nothing_stays_open() -> None:
    held = bind_socket("127.0.0.1", 0)  # no SO_REUSEPORT: nobody may join it
    try:
        with pytest.raises(OSError, match="in use"):
            bind_sockets("127.0.0.1", held.getsockname()[1], 2)
    finally:
        held.close()


def test_a_port_held_by_another_reuseport_group_is_refused_too() -> None:
    """A second ``serve --workers 2`` on a port the first one's workers hold must not join their
    group (the kernel would let it, for the same user, and split the connections between the two)."""
    first = bind_sockets("127.0.0.1", 0, 2)
    try:
        with pytest.raises(OSError, match="in use"):
            bind_sockets("127.0.0.1", first[0].getsockname()[1], 2)
    finally:
        for s in first:
            s.close()


def test_an_ipv6_host_gets_sockets_of_one_group_on_one_port() -> None:
    """``::1`` (as ``--host ::1`` gives it, or bracketed) binds IPv6 sockets of one group."""
    socks = bind_sockets("::1", 0, 2)
    try:
        assert {s.family for s in socks} == {socket.AF_INET6}
        assert len({s.getsockname()[1] for s in socks}) == 1
    finally:
        for s in socks:
            s.close()


def test_a_free_named_port_is_bound_by_every_worker_after_the_check() -> None:
    """The check's own socket is gone before the workers' bind (it would refuse them otherwise)."""
    free = bind_socket("[::1]", 0)
    port = free.getsockname()[1]
    free.close()
    socks = bind_sockets("[::1]", port, 2)
    try:
        assert [s.getsockname()[1] for s in socks] == [port, port]
    finally:
        for s in socks:
            s.close()


def test_without_so_reuseport_several_workers_share_one_plain_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback: the one shared socket there was before, on the port asked for."""
    reuseport = socket.SO_REUSEPORT
    monkeypatch.delattr(socket, "SO_REUSEPORT")
    (sock,) = bind_sockets("127.0.0.1", 0, 3)
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, reuseport) == 0
        with pytest.raises(OSError, match="in use"):
            bind_socket("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()
