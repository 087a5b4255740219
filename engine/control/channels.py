"""The four shared-memory channels between the UI, the control core and the recorder.

The app creates them (`Channels.create()`), passes `paths()` to the core and the recorder
processes, and each attaches with `Channels.attach(paths)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.control import layout
from engine.control.shm import Ring, SeqLockBlock, sweep_stale_segments


@dataclass
class Channels:
    state: SeqLockBlock  # core -> UI, every cycle
    command: SeqLockBlock  # UI -> core
    telemetry: Ring  # core -> recorder, one record per cycle
    events: Ring  # core -> recorder (steps, strides, outcomes, alarms, settings)

    @classmethod
    def create(cls) -> Channels:
        """Create fresh, zeroed channels (the caller owns and unlinks them; shm removes them at
        exit too). First sweeps the segments of processes that no longer exist."""
        sweep_stale_segments()
        return cls(
            state=SeqLockBlock.create(layout.STATE_DTYPE, "state"),
            command=SeqLockBlock.create(layout.COMMAND_DTYPE, "command"),
            telemetry=Ring.create(layout.TELEMETRY_DTYPE, layout.TELEMETRY_CAPACITY, "telemetry"),
            events=Ring.create(layout.EVENT_DTYPE, layout.EVENT_CAPACITY, "events"),
        )

    @classmethod
    def attach(cls, paths: dict[str, str]) -> Channels:
        """Attach to channels created by another process."""
        return cls(
            state=SeqLockBlock(paths["state"], layout.STATE_DTYPE),
            command=SeqLockBlock(paths["command"], layout.COMMAND_DTYPE),
            telemetry=Ring(paths["telemetry"], layout.TELEMETRY_DTYPE, layout.TELEMETRY_CAPACITY),
            events=Ring(paths["events"], layout.EVENT_DTYPE, layout.EVENT_CAPACITY),
        )

    def paths(self) -> dict[str, str]:
        """Picklable description to hand to another process."""
        return {
            "state": self.state.path,
            "command": self.command.path,
            "telemetry": self.telemetry.path,
            "events": self.events.path,
        }

    def close(self, unlink: bool | None = None) -> None:
        """Unmap all four; the creator also removes the files unless unlink=False."""
        for channel in (self.state, self.command, self.telemetry, self.events):
            channel.close(unlink=unlink)
