"""Short audio cues through Panda3D: cleared, touched, a dual-task cue, the crossing turning green,
a stumble warning.

The tones are synthesised once into small WAV files (no binary assets to ship or license) in the
user's cache directory. With `audio-library-name null` (headless runs) Panda3D hands back silent
sounds, so the same code runs silently.
"""

from __future__ import annotations

import logging
import math
import os
import struct
import wave
from pathlib import Path

from engine.control import layout

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 22050
# name -> list of (frequency Hz, duration s) notes
CUES: dict[str, list[tuple[float, float]]] = {
    "cleared": [(660.0, 0.08), (880.0, 0.12)],  # rising: success
    "hit": [(330.0, 0.18)],  # one low, soft note: information, not punishment
    "cue": [(1000.0, 0.06)],  # dual-task cue appears
    "green": [(880.0, 0.05), (0.0, 0.05), (880.0, 0.05)],  # crossing: walk now
    "summary": [(523.0, 0.1), (659.0, 0.1), (784.0, 0.2)],
    "tick": [(1200.0, 0.03)],  # metronome: short and bright, heard over the ambience
    # stumble warning: two quick falling notes, calm (a shrill alarm would startle a falling patient)
    "stumble": [(784.0, 0.12), (0.0, 0.04), (587.0, 0.2)],
}


class MetronomeClock:
    """Which beats are due on the scene clock (it stops while paused, so does the metronome).

    Rhythmic auditory cues raise cadence, stride length and speed in Parkinson's disease
    (Spaulding et al. 2013 meta-analysis); pacing about 10 % above the preferred cadence reduced
    freezing (Arias & Cudeiro 2010). The scene's `cueing.metronome_spm` sets the rate.
    """

    def __init__(self) -> None:
        self.beat = -1

    def due(self, scene_time_s: float, rate_spm: float, running: bool) -> bool:
        """True once per beat while running; a new beat index after a pause plays on the next beat."""
        if rate_spm <= 0.0:
            return False
        beat = int(scene_time_s * rate_spm / 60.0)
        fresh = running and beat != self.beat
        self.beat = beat
        return fresh


def cache_dir() -> Path:
    """Where the synthesised tones live."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stepsync" / "sounds"


def write_tone(path: Path, notes: list[tuple[float, float]], volume: float = 0.4) -> Path:
    """A mono 16-bit WAV of the notes (frequency 0 = silence), with 5 ms fades against clicks."""
    frames = bytearray()
    fade = int(0.005 * SAMPLE_RATE_HZ)
    for frequency_hz, duration_s in notes:
        count = int(duration_s * SAMPLE_RATE_HZ)
        for i in range(count):
            envelope = min(1.0, i / fade, (count - i) / fade) if fade else 1.0
            value = volume * envelope * math.sin(2 * math.pi * frequency_hz * i / SAMPLE_RATE_HZ) if frequency_hz else 0.0
            frames += struct.pack("<h", int(value * 32767))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE_HZ)
        out.writeframes(bytes(frames))
    os.replace(tmp, path)  # atomic: two app instances may start at once
    return path


class AudioCues:
    """Loads the cue sounds into Panda3D and plays them by name."""

    def __init__(self, loader, volume: float = 0.8) -> None:
        self.sounds = {}
        self.played: list[str] = []
        self._metronome = MetronomeClock()
        self._stumble_t_s = math.nan
        for name, notes in CUES.items():
            path = cache_dir() / f"{name}.wav"
            try:
                if not path.exists():
                    write_tone(path, notes)
                sound = loader.load_sfx(str(path))
                sound.set_volume(volume)
                self.sounds[name] = sound
            except Exception as exc:  # no sound is better than no session
                log.warning("audio cue %s unavailable: %s", name, exc)

    def metronome(self, scene, scene_time_s: float, running: bool) -> None:
        """Tick on the beat when the scene's cueing asks for a metronome (call once per frame)."""
        cueing = getattr(scene, "cueing", None)
        if cueing is None or not cueing.metronome:
            return
        if self._metronome.due(scene_time_s, cueing.metronome_spm, running):
            self.play("tick")

    def stumble(self, state) -> None:
        """Sound the stumble cue once per STUMBLE alarm the core raises (call once per frame with
        the state snapshot): a new alarm is a STUMBLE slot with a raise time not heard before."""
        for slot in state["alarms"]:
            if int(slot["reason"]) == int(layout.AlarmReason.STUMBLE) and float(slot["t_s"]) != self._stumble_t_s:
                self._stumble_t_s = float(slot["t_s"])
                self.play("stumble")

    def play(self, name: str) -> None:
        """Play one cue (silently when audio is off)."""
        self.played.append(name)
        sound = self.sounds.get(name)
        if sound is not None:
            sound.play()
