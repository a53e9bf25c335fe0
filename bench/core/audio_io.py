"""Reading audio files of the corpora: WAV/FLAC (soundfile), NIST SPHERE (TIMIT), MUSDB18 stems (stempeg).

Every failure becomes an ``AudioFileError`` that names the file and the reason, so a corrupt file fails
only the item that reads it. Signals come back as float32 arrays of shape (channels, frames).
"""
from __future__ import annotations

import os
import struct
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SPHERE_MAGIC = b"NIST_1A\n"


class AudioFileError(Exception):
    """A file that cannot be used: unreadable, truncated, or not what its corpus promises."""

    def __init__(self, path: os.PathLike | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


@dataclass(frozen=True)
class AudioInfo:
    sr: int
    channels: int
    frames: int
    format: str  # WAV, FLAC, NIST, STEM-MP4, ...

    @property
    def seconds(self) -> float:
        return self.frames / self.sr


# -- NIST SPHERE ------------------------------------------------------------------------------------------
def parse_sphere_header(head: bytes) -> dict:
    """The fields of a NIST SPHERE header (``NIST_1A``, header size, ``name -type value`` lines, ``end_head``).

    Integer fields (``-i``) become ints, reals (``-r``) floats, strings (``-sN``) str; ``header_bytes``
    holds the header size from the second line.
    """
    if not head.startswith(SPHERE_MAGIC):
        raise ValueError("not a NIST SPHERE file (no NIST_1A magic)")
    lines = head.split(b"\n")
    try:
        fields: dict = {"header_bytes": int(lines[1].strip())}
    except (IndexError, ValueError):
        raise ValueError("malformed SPHERE header: the second line must hold the header size") from None
    for raw in lines[2:]:
        line = raw.decode("ascii", "replace").strip()
        if line == "end_head":
            return fields
        if not line or line.startswith(";"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            raise ValueError(f"malformed SPHERE header line {line!r}")
        name, kind, value = parts
        try:
            fields[name] = int(value) if kind == "-i" else float(value) if kind == "-r" else value
        except ValueError:
            raise ValueError(f"malformed SPHERE header line {line!r}") from None
    raise ValueError("malformed SPHERE header: no end_head line")


def _sphere_layout(path: Path) -> tuple[dict, int]:
    with open(path, "rb") as f:
        head = f.read(1024)
        if not head.startswith(SPHERE_MAGIC):
            raise AudioFileError(path, "not a NIST SPHERE file (no NIST_1A magic)")
        try:
            size = int(head.split(b"\n")[1].strip())
        except (IndexError, ValueError):
            raise AudioFileError(path, "malformed SPHERE header: no header size on line 2") from None
        if size > len(head):
            head += f.read(size - len(head))
    try:
        fields = parse_sphere_header(head[:size])
    except ValueError as exc:
        raise AudioFileError(path, str(exc)) from None
    coding = str(fields.get("sample_coding", "pcm"))
    if coding != "pcm":
        hint = " (decompress it with sph2pipe first)" if "shorten" in coding else ""
        raise AudioFileError(path, f"unsupported SPHERE sample_coding {coding!r}{hint}; only pcm is read")
    for required in ("sample_rate", "sample_count"):
        if required not in fields:
            raise AudioFileError(path, f"SPHERE header has no {required} field")
    return fields, size


def sphere_info(path: os.PathLike | str) -> AudioInfo:
    fields, _ = _sphere_layout(Path(path))
    return AudioInfo(int(fields["sample_rate"]), int(fields.get("channel_count", 1)),
                     int(fields["sample_count"]), "NIST")


def read_sphere(path: os.PathLike | str) -> tuple[np.ndarray, int]:
    """Samples (channels, frames) scaled to [-1, 1) and the rate of an uncompressed PCM SPHERE file."""
    path = Path(path)
    fields, size = _sphere_layout(path)
    width = int(fields.get("sample_n_bytes", 2))
    channels = int(fields.get("channel_count", 1))
    order = str(fields.get("sample_byte_format", "01"))
    if width not in (1, 2, 4):
        raise AudioFileError(path, f"unsupported SPHERE sample_n_bytes {width}")
    endian = ">" if order in ("10", "3210") else "<"
    dtype = np.dtype(f"{endian}i{width}")
    expected = int(fields["sample_count"]) * channels
    data = np.fromfile(path, dtype=dtype, offset=size)
    if data.size < expected:
        raise AudioFileError(path, f"truncated: the SPHERE header declares {fields['sample_count']} samples, "
                                   f"the file holds {data.size // max(channels, 1)}")
    data = data[:expected].reshape(-1, channels).T
    return (data.astype(np.float32) / float(2 ** (8 * width - 1))), int(fields["sample_rate"])


# -- WAV integrity ------------------------------------------------------------------------------------------
def _wav_truncation(path: Path) -> str | None:
    """A reason when a RIFF/WAVE file's data chunk is shorter than its header declares (libsndfile reads
    such a file silently short); None when intact or not a plain RIFF file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(12)[8:12] != b"WAVE":
            return None
        f.seek(0)
        if f.read(4) != b"RIFF":
            return None
        f.seek(12)
        while True:
            header = f.read(8)
            if len(header) < 8:
                return None
            chunk, length = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk == b"data":
                held = size - f.tell()
                if length != 0xFFFFFFFF and held < length:
                    return f"truncated: the WAV header declares {length} bytes of audio, the file holds {held}"
                return None
            f.seek(length + (length & 1), 1)


# -- generic reading --------------------------------------------------------------------------------------
@contextmanager
def _decoding(path: Path):
    """Any decoder failure inside is this file's failure: an AudioFileError naming it."""
    if not path.is_file():
        raise AudioFileError(path, "no such file")
    try:
        yield
    except AudioFileError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise AudioFileError(path, f"unreadable audio ({_short(exc)})") from None


def _is_sphere(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == SPHERE_MAGIC


def audio_info(path: os.PathLike | str, stream: int | None = None) -> AudioInfo:
    """Rate, channels and length from the file's header (nothing decoded, except for stems)."""
    path = Path(path)
    if stream is not None:
        return _stem_info(path, stream)
    with _decoding(path):
        if _is_sphere(path):
            return sphere_info(path)
        info = sf.info(str(path))
    return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames), info.format)


def read_audio(path: os.PathLike | str, stream: int | None = None) -> tuple[np.ndarray, int]:
    """The whole file as float32 (channels, frames) and its sample rate.

    ``stream`` selects a sub-stream of a multi-stream MP4 (MUSDB18 ``.stem.mp4``: 0 mixture, 1 drums,
    2 bass, 3 other, 4 vocals), decoded with stempeg (which needs ffmpeg).
    """
    path = Path(path)
    if stream is not None:
        return _read_stem(path, stream)
    with _decoding(path):
        if _is_sphere(path):
            return read_sphere(path)
        reason = _wav_truncation(path)
        if reason:
            raise AudioFileError(path, reason)
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if data.shape[0] == 0:
        raise AudioFileError(path, "the file holds no audio samples")
    return np.ascontiguousarray(data.T), int(sr)


def _stempeg(path: Path):
    try:
        import stempeg  # raises at import when ffmpeg/ffprobe are missing
    except Exception as exc:  # noqa: BLE001
        raise AudioFileError(path, "reading MUSDB18 .stem.mp4 files needs stempeg with ffmpeg and ffprobe on "
                                   f"PATH ({_short(exc)}); install ffmpeg or decode the stems to wav folders "
                                   "with `musdbconvert`") from None
    return stempeg


def _stem_info(path: Path, stream: int) -> AudioInfo:
    if not path.is_file():
        raise AudioFileError(path, "no such file")
    stempeg = _stempeg(path)
    try:
        info = stempeg.Info(str(path))
        if stream >= info.nb_audio_streams:
            raise AudioFileError(path, f"has {info.nb_audio_streams} audio streams, stream {stream} was asked for")
        return AudioInfo(int(info.rate(stream)), int(info.channels(stream)), int(info.samples(stream)),
                         "STEM-MP4")
    except AudioFileError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise AudioFileError(path, f"unreadable stem file ({_short(exc)})") from None


def _read_stem(path: Path, stream: int) -> tuple[np.ndarray, int]:
    info = _stem_info(path, stream)
    stempeg = _stempeg(path)
    try:
        audio, sr = stempeg.read_stems(str(path), stem_id=stream, dtype=np.float32, always_3d=False)
    except Exception as exc:  # noqa: BLE001
        raise AudioFileError(path, f"cannot decode stream {stream} ({_short(exc)})") from None
    audio = np.asarray(audio, dtype=np.float32)
    audio = audio[None, :] if audio.ndim == 1 else audio.T  # stempeg gives (frames, channels)
    if audio.shape[0] != info.channels or audio.shape[1] == 0:
        raise AudioFileError(path, f"stream {stream} decoded to an unexpected shape {audio.shape}")
    return np.ascontiguousarray(audio), int(sr)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


# -- conversion -------------------------------------------------------------------------------------------
def to_mono(x: np.ndarray) -> np.ndarray:
    """(channels, frames) -> (frames,) by averaging the channels."""
    return x[0] if x.shape[0] == 1 else x.mean(axis=0)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling of a (frames,) signal with soxr at its very-high-quality setting."""
    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    return soxr.resample(np.asarray(x, dtype=np.float32), sr_in, sr_out, quality="VHQ").astype(np.float32)
