"""brain_heartbeat_info: which events match (host, time), against the brain's event shape."""

from __future__ import annotations

from ansible_collections.m8trx.deployer.plugins.modules import brain_heartbeat_info

EVENTS = [
    {"id": 1, "event_type": "heartbeat", "hostname": "i-aaa", "received": "2026-11-25T10:00:00.100Z",
     "payload": {"hostname": "i-aaa", "tailscale": "Running"}},
    {"id": 2, "event_type": "heartbeat", "hostname": "i-bbb", "received": "2026-11-25T10:05:00.000Z",
     "payload": {"hostname": "i-bbb", "tailscale": "NeedsLogin"}},
    {"id": 3, "event_type": "heartbeat", "received": "2026-11-25T10:10:00.000Z",  # older brains: the host only in the payload
     "payload": {"hostname": "i-aaa", "tailscale": "Running"}},
]


def test_every_heartbeat_without_filters():
    assert [e["id"] for e in brain_heartbeat_info.matching(EVENTS, None, None)] == [1, 2, 3]


def test_only_the_named_host_from_the_event_or_its_payload():
    found = brain_heartbeat_info.matching(EVENTS, "i-aaa", None)
    assert [(e["id"], e["hostname"]) for e in found] == [(1, "i-aaa"), (3, "i-aaa")]


def test_since_keeps_events_at_or_after_the_time_with_millisecond_stamps():
    assert [e["id"] for e in brain_heartbeat_info.matching(EVENTS, None, "2026-11-25T10:05:00")] == [2, 3]
    assert [e["id"] for e in brain_heartbeat_info.matching(EVENTS, "i-aaa", "2026-11-25T10:00:01")] == [3]


def test_nothing_matches_an_unknown_host_or_an_empty_answer():
    assert brain_heartbeat_info.matching(EVENTS, "i-zzz", None) == []
    assert brain_heartbeat_info.matching(None, None, None) == []
