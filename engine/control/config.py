"""Configuration of one control-core process (picklable: it crosses the spawn boundary)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CoreConfig:
    """Where the devices are and how the loop runs.

    `ports` maps "treadmill", "exoskeleton" and optionally "heart_rate" to serial port paths.
    """

    ports: dict[str, str] = field(default_factory=dict)
    rate_hz: float = 1000.0
    rt_priority: int = 80  # SCHED_FIFO priority; 0 = don't ask
    cpu: int | None = None  # core to pin to; None = last CPU
    ui_heartbeat_timeout_s: float = 0.1
    device_silence_s: float = 0.02
    # Added by the control core (compatible extensions, all with defaults):
    overrun_streak: int = 50  # consecutive missed cycles that force a controlled stop
    spin_us: float = 150.0  # sleep until this long before a deadline, then spin
    log_level: str = "INFO"
    max_cycles: int = 0  # stop on its own after this many cycles (0 = run until told)
    # The virtual rig's process, when the devices are simulated (0: real devices). The core
    # times device silence from the end of the rig's starvation (core.RIG_STARVED_MAX_S).
    sim_rig_pid: int = 0
