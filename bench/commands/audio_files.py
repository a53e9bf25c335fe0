"""Reading and writing the audio files the `score` and `corrupt` commands work on.

A signal argument is one wav (or any format libsndfile reads) or a comma-separated list of files, one per
source, stacked into (S, T). The harness is mono: a multi-channel file is averaged to mono, and the
command says so. A file with NaN or infinite samples, or shorter than ``MIN_SAMPLES``, is refused with one
line naming it: no metric or corruption has a meaningful answer there.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.core.audio_io import AudioFileError, read_audio, resample, to_mono
from bench.core.files import write_with
from bench.core.jsonable import to_json

# The metrics' shortest analysis window (BSS Eval's 512-tap filters; the spectral metrics' frames are longer
# still): a shorter file has nothing they can score.
MIN_SAMPLES = 512


def read_signal(spec: str, sr: int | None = None, trim: bool = True) -> tuple[np.ndarray, int, list[str]]:
    """(samples (T,) or (S, T) float64, rate, notes) for a file or a comma-separated list of files.

    All files are brought to ``sr`` (default: the first file's rate) with soxr and cut to the shortest
    (with ``trim=False``, files of different lengths are an error instead).
    Reading, mono mix-down and resampling are the corpus loaders' (bench.core.audio_io).
    """
    paths = [Path(p) for p in spec.split(",") if p]
    if not paths:
        raise ValueError(f"no audio file named in {spec!r}")
    notes, signals, rate = [], [], sr
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no such audio file: {path}")
        try:
            samples, file_rate = read_audio(path)
        except AudioFileError as exc:
            raise ValueError(str(exc)) from None
        check_samples(path, samples)
        if samples.shape[0] > 1:
            notes.append(f"{path}: {samples.shape[0]} channels averaged to mono")
        rate = rate or file_rate
        if file_rate != rate:
            notes.append(f"{path}: resampled from {file_rate} Hz to {rate} Hz")
        signals.append(resample(to_mono(samples), file_rate, rate).astype(np.float64))
    length = min(s.size for s in signals)
    if any(s.size != length for s in signals) and not trim:
        lengths = ", ".join(f"{p} has {s.size}" for p, s in zip(paths, signals))
        raise ValueError(f"sources of different lengths ({lengths} samples at {rate} Hz); "
                         "--trim cuts them to the shortest")
    if any(s.size != length for s in signals):
        notes.append(f"{spec}: sources cut to the shortest, {length} samples")
    stacked = np.stack([s[:length] for s in signals])
    return (stacked[0] if len(paths) == 1 else stacked), int(rate), notes


def check_samples(path, samples: np.ndarray) -> None:
    """Refuse audio with NaN or infinite samples or fewer than MIN_SAMPLES, naming the file and the problem."""
    bad = ~np.isfinite(samples)
    if bad.any():
        first = int(np.flatnonzero(bad.any(axis=0))[0]) if samples.ndim == 2 else int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: {int(bad.sum())} of {samples.size} samples are NaN or infinite (the first at "
                         f"sample {first}); audio must be finite")
    if samples.shape[-1] < MIN_SAMPLES:
        raise ValueError(f"{path}: {samples.shape[-1]} samples, too short to score or corrupt (at least "
                         f"{MIN_SAMPLES}, the metrics' shortest analysis window)")


def write_signal(path: str | Path, samples: np.ndarray, sr: int, subtype: str = "FLOAT") -> None:
    """Write (T,) or (S, T) audio, in the format its extension names; sources become channels. FLOAT keeps
    values outside [-1, 1] exact."""
    path = Path(path)
    kind = path.suffix.lstrip(".").upper()
    if kind not in sf.available_formats():
        raise ValueError(f"{path}: not an audio file name (the extension names the format: .wav, .flac, ...)")
    write_with(path, lambda f: sf.write(f, np.asarray(samples, dtype=np.float32).T, sr, subtype=subtype,
                                        format=kind))


def print_notes(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def dump(value) -> str:
    return json.dumps(to_json(value), indent=2)
