"""Reverberation (dereverberation task): a shoebox room simulated with pyroomacoustics for a target RT60.

The seed draws the room size (uniformly between ``room_min`` and ``room_max``, metres) and the source and
microphone positions (at least ``margin`` from the walls, ``distance_min`` to ``distance_max`` apart). The
wall absorption starts from Sabine's inverse formula (``pyroomacoustics.inverse_sabine``) and is then
calibrated: the RT60 of the simulated impulse response is measured (``measure_rt60``, Schroeder backward
integration, T30: the -5 to -35 dB decay extrapolated to 60 dB, as ISO 3382) and the absorption adjusted
until the measured value is within ``tolerance`` (relative, default 5 %) of the target. Sabine alone misses
by up to 50 % in these small rooms. A room that cannot reach the target (too large for a short RT60) is
drawn again. The measured RT60 is stored in ``Observation.info["rt60_measured"]``.

The reverberant signal is the clean one convolved with the impulse response scaled to a direct-path peak of
1 and advanced by the direct-path delay (the response's largest sample), so that its dry component is the
reference itself, aligned and at the same level (up to pyroomacoustics' fractional-delay filter): what a
dereverberation method should recover. The reference is the clean clip.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyroomacoustics as pra
from scipy.signal import fftconvolve

from bench.core.audio import Clip, Observation
from bench.corruptions import Corruption, corruption

ROOM_ATTEMPTS = 200
CALIBRATION_STEPS = 12
MAX_ABSORPTION = 0.999


@dataclass
class SimulatedRoom:
    rir: np.ndarray  # as simulated (time 0 = emission), scaled to a direct-path peak of 1
    rt60_measured: float
    absorption: float
    max_order: int
    dims: np.ndarray
    source: np.ndarray
    mic: np.ndarray
    direct_delay: int  # index of the direct-path peak in ``rir``


def measure_rt60(rir: np.ndarray, sr: int) -> float:
    return float(pra.experimental.measure_rt60(rir, fs=sr, decay_db=30))


def simulate_room(rt60: float, sr: int, rng: np.random.Generator, *, room_min=(3.0, 3.0, 2.4),
                  room_max=(7.0, 5.0, 3.2), margin: float = 0.5, distance_min: float = 1.0,
                  distance_max: float = 3.0, tolerance: float = 0.05) -> SimulatedRoom:
    """A room whose simulated impulse response has a measured RT60 within ``tolerance`` of ``rt60``."""
    room_min, room_max = np.asarray(room_min, float), np.asarray(room_max, float)
    if room_min.shape != (3,) or room_max.shape != (3,) or np.any(room_min > room_max):
        raise ValueError("reverb: room_min and room_max are [length, width, height] in metres, min <= max")
    if np.any(room_min <= 2 * margin):
        raise ValueError(f"reverb: rooms must be larger than twice the wall margin ({margin} m) in every dimension")
    for _ in range(ROOM_ATTEMPTS):
        dims = rng.uniform(room_min, room_max)
        try:
            absorption, max_order = pra.inverse_sabine(rt60, dims)
        except ValueError:  # too large a room for so short an RT60
            continue
        positions = _positions(dims, rng, margin, distance_min, distance_max)
        if positions is None:
            continue
        room = _calibrate(rt60, sr, dims, *positions, absorption, max_order, tolerance)
        if room is not None:
            return room
    raise ValueError(f"reverb: no room between {room_min.tolist()} and {room_max.tolist()} m reached RT60 {rt60} s "
                     f"within {tolerance:.0%} in {ROOM_ATTEMPTS} draws; widen the room ranges (smaller rooms "
                     "for short RT60s, larger for long ones)")


def _positions(dims, rng, margin, distance_min, distance_max):
    for _ in range(ROOM_ATTEMPTS):
        source = rng.uniform(margin, dims - margin)
        mic = rng.uniform(margin, dims - margin)
        if distance_min <= np.linalg.norm(source - mic) <= distance_max:
            return source, mic
    return None


def _calibrate(rt60, sr, dims, source, mic, absorption, max_order, tolerance) -> SimulatedRoom | None:
    # The decay rate of the simulated response follows the Eyring absorption coefficient -ln(1 - a): scale
    # it by the measured/target ratio until the measured RT60 is within tolerance.
    for _ in range(CALIBRATION_STEPS):
        room = pra.ShoeBox(dims, fs=sr, materials=pra.Material(absorption), max_order=max_order)
        room.add_source(source)
        room.add_microphone(mic)
        room.compute_rir()
        raw = np.asarray(room.rir[0][0], dtype=np.float64)
        measured = measure_rt60(raw, sr)
        if abs(measured / rt60 - 1) <= tolerance:
            delay = int(np.argmax(np.abs(raw)))
            return SimulatedRoom(raw / raw[delay], measured, float(absorption), int(max_order), dims,
                                 source, mic, delay)
        if absorption >= MAX_ABSORPTION and measured > rt60:
            return None
        eyring = -np.log1p(-absorption) * measured / rt60
        absorption = min(MAX_ABSORPTION, float(-np.expm1(-eyring)))
    return None


@corruption("reverb", version="1")
class Reverb(Corruption):
    """A simulated shoebox room with a measured RT60 within ``tolerance`` of ``rt60`` seconds."""

    task = "dereverberation"

    def __init__(self, rt60: float, room_min=(3.0, 3.0, 2.4), room_max=(7.0, 5.0, 3.2), margin: float = 0.5,
                 distance_min: float = 1.0, distance_max: float = 3.0, tolerance: float = 0.05):
        if rt60 <= 0:
            raise ValueError(f"reverb: rt60 must be positive, got {rt60}")
        super().__init__(rt60=rt60, room_min=list(room_min), room_max=list(room_max), margin=margin,
                         distance_min=distance_min, distance_max=distance_max, tolerance=tolerance)
        self.rt60 = float(rt60)
        self.room = dict(room_min=room_min, room_max=room_max, margin=margin, distance_min=distance_min,
                         distance_max=distance_max, tolerance=tolerance)

    def apply(self, clip: Clip, rng: np.random.Generator) -> Observation:
        if clip.samples.ndim != 1:
            raise ValueError(f"reverb corrupts a single signal (T,), got shape {clip.samples.shape}")
        room = simulate_room(self.rt60, clip.sr, rng, **self.room)
        clean = clip.samples.astype(np.float64)
        reverberant = fftconvolve(clean, room.rir)[room.direct_delay:room.direct_delay + clean.size]
        info = {"rt60_target": self.rt60, "rt60_measured": room.rt60_measured, "absorption": room.absorption,
                "max_order": room.max_order, "room_dims": room.dims.tolist(), "source": room.source.tolist(),
                "mic": room.mic.tolist(), "source_mic_distance": float(np.linalg.norm(room.source - room.mic)),
                "direct_delay_samples": room.direct_delay, "rir_samples": int(room.rir.size),
                "drr_db": _direct_to_reverberant_db(room.rir, room.direct_delay, clip.sr)}
        return Observation(reverberant, clip.sr, self.task, reference=clip.samples, info=info)


def _direct_to_reverberant_db(rir: np.ndarray, direct: int, sr: int) -> float:
    """Energy within 2.5 ms of the direct-path peak over the energy of the rest (the usual DRR window)."""
    half = int(round(0.0025 * sr))
    window = slice(max(direct - half, 0), direct + half + 1)
    direct_energy = np.sum(rir[window] ** 2)
    return float(10 * np.log10(direct_energy / max(np.sum(rir**2) - direct_energy, 1e-20)))
