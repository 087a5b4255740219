"""In-process links: frame bodies that skip CRC and COBS arrive exactly as the framed bytes would.

engine/sim/links.py hands bodies over unframed while no line fault is on. These tests drive the
same random traffic, with line faults switched on and off in between, through a link that frames
every body (the byte path, as before) and through the real one, and compare everything each side
receives and counts.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from devices import protocol as p
from devices.framing import wrap
from engine.sim.links import MemoryEndpoint, MemoryLink


class FramedEndpoint(MemoryEndpoint):
    """Every body through the byte stream (CRC, COBS, the stream decoders): the reference."""

    def plain_to_device(self, body: bytes) -> bool:
        return False

    def transmit_body(self, body: bytes) -> None:
        self.transmit(wrap(body))


def _body(rng: random.Random, seq: int) -> bytes:
    kind = rng.randrange(3)
    if kind == 0:
        return p.encode_body(p.EXO_COMMAND, p.Msg.EXO_COMMAND, seq, rng.randrange(1 << 40), 2, 2, 2, 2,
                             rng.random(), *[rng.uniform(-1, 1) for _ in range(10)])
    if kind == 1:
        return p.encode_body(p.EMPTY, p.Msg.HEARTBEAT, seq, rng.randrange(1 << 40))
    return p.encode_body(p.EXO_STATUS, p.Msg.EXO_STATUS, seq, rng.randrange(1 << 40), 4, 0,
                         *[rng.gauss(0.0, 1.0) for _ in range(20)])


def _run(endpoint_cls, seed: int, steps: int) -> list:
    """Random sends both ways with faults toggled; everything received and counted, in order."""
    rng = random.Random(seed)
    ep = endpoint_cls("exoskeleton", random.Random(seed + 1))
    link = MemoryLink(ep)
    seen = []
    for i in range(steps):
        action = rng.random()
        if action < 0.04:
            ep.corrupt_fraction = rng.choice([0.0, 0.0, 0.01, 0.2])
        elif action < 0.06:
            ep.cut = not ep.cut
        elif action < 0.08:
            ep.stalled = not ep.stalled
        for _ in range(rng.randrange(3)):
            link.send_body(_body(rng, i))
        for _ in range(rng.randrange(3)):
            ep.transmit_body(_body(rng, i))
        if rng.random() < 0.7:
            seen.append(("device", ep.receive()))
        if rng.random() < 0.7:
            seen.append(("host", link.read_bodies()))
    seen.append(("device", ep.receive()))
    seen.append(("host", link.read_bodies()))
    s = link.stats
    seen.append(("counters", ep.bytes_rx, ep.frames_tx, ep.decoder.bad, ep.bytes_corrupted,
                 s.bytes_rx, s.frames_tx, s.frames_bad))
    return seen


def test_unframed_bodies_arrive_as_framed_ones_without_faults():
    rng = random.Random(5)
    ep = MemoryEndpoint("exoskeleton", random.Random(1))
    link = MemoryLink(ep)
    sent = [_body(rng, i) for i in range(20)]
    for body in sent[:10]:
        link.send_body(body)
    for body in sent[10:]:
        ep.transmit_body(body)
    assert not ep.to_device and not ep.to_host  # nothing went through the byte stream
    assert ep.receive() == sent[:10]
    assert link.read_bodies() == sent[10:]
    assert ep.bytes_rx == sum(len(wrap(b)) for b in sent[:10])
    assert link.stats.bytes_rx == sum(len(wrap(b)) for b in sent[10:])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31))
def test_unframed_bodies_and_line_faults_give_what_the_byte_stream_gives(seed):
    assert _run(MemoryEndpoint, seed, 300) == _run(FramedEndpoint, seed, 300)


def test_state_block_alarm_priority_follows_the_alarm_table_through_a_fault(tmp_path):
    """The core publishes the highest unacknowledged priority only when its alarm table changed:
    at every probe it equals what the table says now, before and after a cut treadmill line."""
    from engine.control.supervisor import Priority
    from engine.sim.session import SimOptions, run_simulation
    from tests.sim.scenes import short_scene_dir

    short_scene_dir(tmp_path)
    seen = []

    def probe(t_s, core, rig):
        if 1.0 <= t_s < 1.01:
            rig.inject("cut", "treadmill")
        published = int(core.state_view["highest_unacked_priority"])
        seen.append((published, core.alarms.highest_unacked()))

    run_simulation(SimOptions(scene="short", profile="healthy", duration_s=3.0, seed=1, db=None,
                              scenes_dir=tmp_path, probe=probe))
    assert all(published == now for published, now in seen)
    assert seen[0][0] < Priority.HIGH and max(published for published, _ in seen) == Priority.HIGH
