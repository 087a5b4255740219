"""Device layer benchmark: codec throughput and the device I/O share of a 1 kHz control cycle.

Figures:
- `codec_frames_per_s`: encode plus decode (COBS, CRC-32, struct) of one typical exoskeleton
  status frame, in this process. The control core needs at least 1000; the target is 20x that.
- `io_cycle_fraction`: the device I/O of one control cycle for all devices (poll the treadmill,
  exoskeleton and heart-rate drivers, send a belt set-point and an exoskeleton command), mean,
  as a fraction of the 1 ms cycle, measured against the virtual rig over real pseudo-terminals.
  Target: below 0.10. `io_cycle_p99_fraction` is the 99th percentile of the same.
- `rig_cpu_fraction`: CPU time of the rig process over wall time while it served that loop.
  Target: below 0.25 of one core.
- `crc32_us` and `crc_hqx_us`: both candidate CRCs over the same 100-byte frame, measured here
  side by side (docs/protocol.md explains why CRC-32 was chosen).
"""

from __future__ import annotations

import binascii
import statistics
import time
import zlib

from devices import protocol as p
from devices.framing import StreamDecoder


def _codec(duration_s: float) -> float:
    decoder = StreamDecoder()
    values = [0.12, 0.55, -0.05, 0.2, 1.5, -2.0, 0.3, 0.1, 2.0, 1.0, -0.5, 0.0,
              0.4, -0.2, 0.0, 0.1, 0.9, 0.2, 0.0, 0.0]
    n = 0
    t_us = int(time.monotonic() * 1e6)
    start = time.perf_counter()
    end = start + duration_s
    while True:
        for _ in range(200):
            frame = p.encode(p.EXO_STATUS, p.Msg.EXO_STATUS, n, t_us + n, p.FLAG_ARMED, 0, *values)
            for body in decoder.feed(frame):
                p.decode_body(body)
            n += 1
        now = time.perf_counter()
        if now >= end:
            break
    assert decoder.bad == 0
    return n / (now - start)


def _crc(func, data: bytes, n: int = 20000) -> float:
    start = time.perf_counter()
    for _ in range(n):
        func(data)
    return (time.perf_counter() - start) / n * 1e6


def _io_cycle(duration_s: float) -> dict:
    from devices.discovery import open_devices
    from devices.sim.rig import start_rig

    with start_rig("healthy", 0) as rig, open_devices(rig.ports) as devices:
        tm, exo, hr = devices.treadmill, devices.exoskeleton, devices.heart_rate
        tm.rearm()
        exo.rearm()
        modes = (1, 1, 1, 1)
        zeros = (0.0, 0.0, 0.0, 0.0)
        costs = []
        frames = 0
        cpu0 = rig.status()["loop"]
        period = 0.001
        next_t = time.monotonic()
        end = next_t + duration_s
        cycle = 0
        perf = time.perf_counter
        while next_t < end:
            t0 = perf()
            frames += tm.poll() + exo.poll()
            if cycle % 10 == 0:
                frames += hr.poll()
            tm.set_speed(1.2, 0.5)
            exo.set_command(modes, 0.5, zeros, zeros, (0.0, 0.0))
            costs.append(perf() - t0)
            cycle += 1
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        cpu1 = rig.status()["loop"]
        bad = tm.stats.frames_bad + exo.stats.frames_bad
    costs.sort()
    return {
        "io_cycle_fraction": statistics.mean(costs) / period,
        "io_cycle_p99_fraction": costs[int(0.99 * (len(costs) - 1))] / period,
        "io_cycles": len(costs),
        "io_frames_decoded": frames,
        "io_frames_bad": bad,
        "rig_cpu_fraction": (cpu1["cpu_s"] - cpu0["cpu_s"]) / (cpu1["wall_s"] - cpu0["wall_s"]),
        "rig_max_lateness_ms": cpu1["max_lateness_s"] * 1e3,
    }


def run(quick: bool) -> dict:
    """Run the device benchmarks; quick takes about 5 s."""
    frame_body = bytes(range(1, 101))
    figures = {
        "codec_frames_per_s": _codec(1.0 if quick else 3.0),
        "crc32_us": _crc(zlib.crc32, frame_body),
        "crc_hqx_us": _crc(lambda d: binascii.crc_hqx(d, 0xFFFF), frame_body),
    }
    figures.update(_io_cycle(3.0 if quick else 10.0))
    return figures
