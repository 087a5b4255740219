"""Messages of the StepSync device protocol (docs/protocol.md is the normative text).

Every frame body is a 12-byte header `<BBHQ` (version, message type, sequence number, sender
time in microseconds of CLOCK_MONOTONIC) followed by a fixed little-endian payload. Each message
has one precompiled `struct.Struct` covering header and payload together, so encoding is one
`pack` plus CRC and COBS, and decoding one `unpack_from`.
"""

from __future__ import annotations

import enum
import struct

from devices.base import DeviceInfo, DeviceType
from devices.framing import wrap

PROTOCOL_VERSION = 1
HEADER = struct.Struct("<BBHQ")
HEADER_BYTES = HEADER.size  # 12


class Msg(enum.IntEnum):
    # host -> any device
    HELLO = 0x01  # who is there? answered by INFO
    HEARTBEAT = 0x02  # feeds the watchdog, nothing else
    REARM = 0x03  # leave the safe state (only when no e-stop and no fault)
    SAFE_STATE = 0x04  # go to the safe state now (treadmill: stop at safe decel; exo: safe mode)
    GET_GEOMETRY = 0x05  # ask for the device's fitted geometry (exoskeleton answers EXO_GEOMETRY)
    # host -> treadmill
    TM_SET_SPEED = 0x10
    TM_SET_BWS = 0x11
    TM_STOP = 0x12
    # host -> exoskeleton
    EXO_COMMAND = 0x20
    # host -> smart insoles (additive: only to insoles whose INFO sets CAP_HAPTIC)
    INSOLE_HAPTIC = 0x30  # vibrate the insoles' motors: a cue the patient feels (stumble warning)
    # device -> host
    INFO = 0x81
    TM_STATUS = 0x90
    EXO_STATUS = 0xA0
    EXO_GEOMETRY = 0xA1
    HR_STATUS = 0xB0
    INSOLE_STATUS = 0xC0


# Status flag bits (byte after the header in every status message).
FLAG_ESTOP = 0x01
FLAG_WATCHDOG = 0x02
FLAG_ARMED = 0x04

# Capability bits in INFO.
CAP_BELT = 1 << 0
CAP_BWS = 1 << 1
CAP_JOINTS = 1 << 2
CAP_INSOLES = 1 << 3
CAP_HEART_RATE = 1 << 4
CAP_ESTOP = 1 << 5
CAP_SWING_BOOST = 1 << 6
CAP_HAPTIC = 1 << 7  # insoles with a vibration motor per foot: they obey INSOLE_HAPTIC

# Header + payload, one Struct per message.
EMPTY = HEADER
TM_SET_SPEED = struct.Struct("<BBHQff")  # speed_mps, accel_mps2
TM_SET_BWS = struct.Struct("<BBHQf")  # unloading fraction 0..1
TM_STOP = struct.Struct("<BBHQf")  # decel_mps2
# modes[4] (u8 JointMode), stiffness 0..1, ref angle[4] rad, ref velocity[4] rad/s, boost[2] 0..1
EXO_COMMAND = struct.Struct("<BBHQ4Bf4f4f2f")
# foot_mask (bit 0 left, bit 1 right), pulses (1..10), intensity 0..1, pulse_us (on time of each
# pulse; as long again off between pulses)
INSOLE_HAPTIC = struct.Struct("<BBHQBBfI")
# device_type, firmware (NUL-padded ASCII), serial (NUL-padded ASCII), capabilities,
# max_speed_mps, max_accel_mps2, safe_decel_mps2, joint_min_rad[4], joint_max_rad[4], status_rate_hz
INFO = struct.Struct("<BBHQB12s16sIfff4f4ff")
# flags, fault, belt_speed_mps, encoder_count, encoder_m_per_count, bws_load_n
TM_STATUS = struct.Struct("<BBHQBHfIff")
# TM_STATUS with the distance sensor appended (self-paced mode): ... bws_load_n, then
# patient_position_m (patient along the belt, + ahead of the reference/centre; NaN = no sensor).
# Same message type, longer payload: a 31-byte TM_STATUS (no sensor) still decodes.
TM_STATUS_POSITION = struct.Struct("<BBHQBHfIfff")
# flags, fault, angle[4], velocity[4], motor torque[4], interaction torque[4], pressure[4]
EXO_STATUS = struct.Struct("<BBHQBH20f")
# flags, fault, heart_rate_bpm
HR_STATUS = struct.Struct("<BBHQBHf")
# Per leg (left then right): thigh_m, shank_m (link lengths as fitted), ankle_height_m (ankle
# joint above the sole), ankle_to_toe_m, ankle_to_heel_m (foot plate, along the sole)
EXO_GEOMETRY = struct.Struct("<BBHQ10f")
# flags, fault, then per foot (left then right): heel_n, midfoot_n, toe_n (normal force on the
# cells under each region), accel_mps2[3] and gyro_radps[3] in the foot frame (x toe-ward along
# the sole, y to the foot's left, z up from the sole; gyro y positive = toe down).
# The header time is the sample time on the insole's clock.
INSOLE_STATUS = struct.Struct("<BBHQBH18f")
INSOLE_FOOT_FIELDS = 9  # per foot, after flags and fault
# INSOLE_STATUS from insoles whose cells are split medial/lateral: the 18 values above, then per
# foot (left then right) lateral_heel_n, lateral_midfoot_n, lateral_toe_n (force on the lateral
# half of each region; the medial half carries the region's force minus it). Same message type,
# longer payload: the 87-byte form (no lateral cells) still decodes.
INSOLE_STATUS_LATERAL = struct.Struct("<BBHQBH24f")
INSOLE_LATERAL_FIELDS = 3  # per foot, after both feet's INSOLE_FOOT_FIELDS

BODY_STRUCTS: dict[int, struct.Struct] = {
    Msg.HELLO: EMPTY,
    Msg.HEARTBEAT: EMPTY,
    Msg.REARM: EMPTY,
    Msg.SAFE_STATE: EMPTY,
    Msg.GET_GEOMETRY: EMPTY,
    Msg.TM_SET_SPEED: TM_SET_SPEED,
    Msg.TM_SET_BWS: TM_SET_BWS,
    Msg.TM_STOP: TM_STOP,
    Msg.EXO_COMMAND: EXO_COMMAND,
    Msg.INSOLE_HAPTIC: INSOLE_HAPTIC,
    Msg.INFO: INFO,
    Msg.TM_STATUS: TM_STATUS,
    Msg.EXO_STATUS: EXO_STATUS,
    Msg.HR_STATUS: HR_STATUS,
    Msg.EXO_GEOMETRY: EXO_GEOMETRY,
    Msg.INSOLE_STATUS: INSOLE_STATUS,
}


def encode(st: struct.Struct, msg: int, seq: int, time_us: int, *fields) -> bytes:
    """One wire frame (COBS, CRC, delimiter) for message `msg` with the given payload fields."""
    return wrap(st.pack(PROTOCOL_VERSION, msg, seq & 0xFFFF, time_us, *fields))


def encode_body(st: struct.Struct, msg: int, seq: int, time_us: int, *fields) -> bytes:
    """The body (header + payload, before CRC and COBS) of the frame `encode` makes: what a
    link's `send_body` frames for its line (an in-process link hands it over as it is)."""
    return st.pack(PROTOCOL_VERSION, msg, seq & 0xFFFF, time_us, *fields)


def decode_body(body: bytes) -> tuple | None:
    """Unpack a checked frame body into (version, msg, seq, time_us, *fields); None if unknown.

    Wrong version, unknown type and wrong length all give None (the caller counts a bad frame).
    """
    if len(body) < HEADER_BYTES or body[0] != PROTOCOL_VERSION:
        return None
    st = _DECODE.get((body[1], len(body)))
    return None if st is None else st.unpack(body)


# (message type, body length) -> its Struct, every form a type may take (TM_STATUS and
# INSOLE_STATUS also have their longer one): decode_body's one look-up per frame (thousands a
# second in `simulate`, where the drivers and the firmware decode every frame)
_DECODE: dict[tuple[int, int], struct.Struct] = {(int(msg), st.size): st for msg, st in BODY_STRUCTS.items()}
_DECODE[(int(Msg.TM_STATUS), TM_STATUS_POSITION.size)] = TM_STATUS_POSITION
_DECODE[(int(Msg.INSOLE_STATUS), INSOLE_STATUS_LATERAL.size)] = INSOLE_STATUS_LATERAL


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("ascii", "replace")


def info_fields(info: DeviceInfo) -> tuple:
    """Payload fields of an INFO message for `info`."""
    return (
        int(info.device_type),
        info.firmware_version.encode("ascii")[:12],
        info.serial_number.encode("ascii")[:16],
        int(info.capabilities),
        info.max_speed_mps,
        info.max_accel_mps2,
        info.safe_decel_mps2,
        *info.joint_min_rad,
        *info.joint_max_rad,
        info.status_rate_hz,
    )


def info_from_fields(fields: tuple) -> DeviceInfo | None:
    """DeviceInfo from the payload fields of an INFO message (after the header); None if bogus."""
    try:
        device_type = DeviceType(fields[0])
    except ValueError:
        return None
    return DeviceInfo(
        device_type=device_type,
        firmware_version=_text(fields[1]),
        serial_number=_text(fields[2]),
        capabilities=fields[3],
        max_speed_mps=fields[4],
        max_accel_mps2=fields[5],
        safe_decel_mps2=fields[6],
        joint_min_rad=tuple(fields[7:11]),
        joint_max_rad=tuple(fields[11:15]),
        status_rate_hz=fields[15],
    )
