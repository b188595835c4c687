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
