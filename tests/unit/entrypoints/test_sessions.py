from mana.entrypoints.http.sessions import SessionOwners


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_counts_per_user_follow_add_and_remove() -> None:
    owners = SessionOwners(per_user_cap=2)
    owners.add("s1", "alice", "Claude Code")
    owners.add("s2", "alice", None)
    owners.add("s3", "bob", None)
    assert len(owners) == 3
    assert owners.count_for("alice") == 2
    assert owners.user_at_cap("alice")
    assert not owners.user_at_cap("bob")
    entry = owners.get("s1")
    assert entry is not None
    assert entry.owner == "alice"
    assert entry.client_name == "Claude Code"
    owners.remove("s1")
    owners.remove("s1")
    assert owners.count_for("alice") == 1
    assert not owners.user_at_cap("alice")
    assert owners.get("s1") is None
    owners.remove("s2")
    assert owners.count_for("alice") == 0


def test_readding_an_id_does_not_double_count() -> None:
    owners = SessionOwners()
    owners.add("s1", "alice", None)
    owners.add("s1", "bob", None)
    assert owners.count_for("alice") == 0
    assert owners.count_for("bob") == 1
    assert len(owners) == 1


def test_total_cap() -> None:
    owners = SessionOwners(total_cap=2)
    owners.add("a", "u1", None)
    assert not owners.total_at_cap()
    owners.add("b", "u2", None)
    assert owners.total_at_cap()


def test_sweep_drops_only_idle_entries_with_nothing_in_flight() -> None:
    clock = Clock()
    owners = SessionOwners(idle_timeout_s=1800, clock=clock)
    owners.add("idle", "alice", None)
    owners.add("streaming", "alice", None)
    owners.add("recent", "bob", None)
    stream = owners.get("streaming")
    assert stream is not None
    owners.begin(stream)  # an open GET stream keeps the session alive
    clock.t += 1000
    recent = owners.get("recent")
    assert recent is not None
    owners.begin(recent)
    owners.end(recent)
    clock.t += 801
    assert owners.sweep() == 1
    assert owners.get("idle") is None
    assert owners.get("streaming") is not None
    assert owners.get("recent") is not None
    assert owners.count_for("alice") == 1
    clock.t += 1000
    owners.end(stream)
    assert owners.sweep() == 1  # recent went idle; the stream just ended, so it is fresh again
    assert owners.get("streaming") is not None
    assert owners.get("recent") is None


def test_reservations_count_against_the_caps_until_released() -> None:
    owners = SessionOwners(per_user_cap=2, total_cap=3)
    assert owners.reserve("alice") is None
    assert owners.reserve("alice") is None
    assert owners.reserve("alice") == "user"
    assert owners.reserve("bob") is None
    assert owners.reserve("carol") == "total"
    owners.release("alice")
    owners.add("s1", "alice", None)  # the first one opened a session
    owners.release("alice")  # the second failed: nothing added
    assert owners.count_for("alice") == 1
    assert not owners.user_at_cap("alice")
    owners.release("bob")
    assert owners.reserve("carol") is None


def test_lookup_ends_a_session_at_its_idle_timeout_not_at_the_next_sweep() -> None:
    clock = Clock()
    owners = SessionOwners(idle_timeout_s=1800, clock=clock)
    owners.add("idle", "alice", None, protocol_version="2025-06-18", issuer="iss", authorized_party="app")
    owners.add("streaming", "alice", None)
    streaming = owners.get("streaming")
    assert streaming is not None
    owners.begin(streaming)
    clock.t += 1800
    entry = owners.lookup("idle")
    assert entry is not None
    assert (entry.protocol_version, entry.issuer, entry.authorized_party) == ("2025-06-18", "iss", "app")
    clock.t += 0.001
    assert owners.lookup("idle") is None
    assert owners.get("idle") is None  # removed, not just hidden
    assert owners.count_for("alice") == 1
    assert owners.lookup("streaming") is streaming  # in flight: never idle


def test_remove_hands_back_the_entry_and_open_streams_lists_only_open_ones() -> None:
    owners = SessionOwners()
    owners.add("a", "alice", None)
    owners.add("b", "alice", None)
    stream = object()
    entry = owners.get("a")
    assert entry is not None
    entry.stream = stream
    assert owners.open_streams() == [stream]
    assert owners.remove("a") is entry
    assert owners.remove("a") is None
    assert owners.open_streams() == []


def test_sessions_past_their_timeout_do_not_count_against_the_caps() -> None:
    clock = Clock()
    owners = SessionOwners(per_user_cap=2, total_cap=3, idle_timeout_s=10.0, clock=clock)
    owners.add("s1", "alice", None)
    owners.add("s2", "alice", None)
    owners.add("s3", "bob", None)
    assert owners.reserve("alice") == "user"
    clock.t += 11.0  # all three expired, none looked up or swept since
    assert owners.reserve("alice") is None  # the expired entries were swept at the cap
    assert len(owners) == 0
    owners.release("alice")


def test_a_session_in_use_still_counts_however_old() -> None:
    clock = Clock()
    owners = SessionOwners(per_user_cap=1, idle_timeout_s=10.0, clock=clock)
    entry = owners.add("s1", "alice", None)
    owners.begin(entry)  # e.g. an open GET stream
    clock.t += 60.0
    assert owners.reserve("alice") == "user"
    assert owners.get("s1") is entry


def test_at_a_cap_expired_entries_are_swept_at_most_once_a_second() -> None:
    clock = Clock()
    owners = SessionOwners(per_user_cap=1, idle_timeout_s=10.0, clock=clock)
    owners.add("s1", "alice", None)  # t = 1000
    clock.t = 1009.6
    assert owners.reserve("alice") == "user"  # a sweep ran: s1 not expired yet
    clock.t = 1010.2  # s1 expired at 1010.0
    assert owners.reserve("alice") == "user"  # the last cap sweep was 0.6 s ago: no new walk
    clock.t = 1010.7
    assert owners.reserve("alice") is None
