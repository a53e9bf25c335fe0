"""File-based corpora: tracks found on disk in the publisher's layout, clips prepared as the papers do.

A loader subclasses ``FileCorpus`` and implements ``scan()``, which lists the corpus's ``Track``s (one
per recording, with its split, metadata and source files) or raises ``CorpusMissing`` saying what was
expected where. Everything else is shared here:

* items: a track's id, or ``<track id>#<k>`` for the k-th excerpt when ``clips_per_file`` > 1;
* preparation: each file is decoded once, mixed to mono, resampled with soxr (very high quality) to the
  protocol's rate and cached on disk (``bench.components.clip_cache``); a clip of ``seconds`` is then one of the
  file's non-overlapping windows, chosen by a permutation seeded by (corpus, track), so items and offsets
  are deterministic and the k excerpts of a file never overlap. A file shorter than a clip is zero-padded
  at the end (``meta["padded"]`` counts the samples);
* protocol options, all off unless a suite asks: ``min_rms_db`` drops windows quieter than that RMS
  (dBFS; every source of a multi-source clip must pass), ``max_zero_fraction`` drops windows with more
  than that fraction of digitally silent samples (|x| < 2^-16, zero at 16 bits), and ``loudness_dbfs``
  scales the clip (its sources together) to that RMS level;
* checks: a file at a rate the publisher does not distribute, a multi-channel file in a mono corpus, a
  truncated or undecodable file fails its item with the path and the reason.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.components.clip_cache import cached_signal
from bench.components.dataset import CorpusMissing, Dataset, split_parts
from bench.core.audio import Clip
from bench.core.audio_io import AudioFileError, audio_info, read_audio, resample, to_mono
from bench.core.seeds import derive_seed

SILENT_SAMPLE = 2.0**-16  # below half a 16-bit step: a sample that is zero at 16 bits
PREPARATION = "mono-mean+soxr-VHQ"  # how a file becomes a signal; part of every cache key


@dataclass(frozen=True)
class AudioRef:
    """One audio file, or one sub-stream of a multi-stream file (``.stem.mp4``)."""

    path: Path
    stream: int | None = None


@dataclass
class Track:
    """A recording: its sources (name -> file), split and metadata; ``span`` limits the excerpts to a
    fraction of the file (a time-based split of long recordings)."""

    id: str
    sources: dict[str, AudioRef]
    split: str
    meta: dict = field(default_factory=dict)
    span: tuple[float, float] = (0.0, 1.0)


# Listings per process (keyed by class, folder, parameters and the folder's mtime): a corpus is scanned once,
# not once per cell.
_SCANS: dict[tuple, tuple[list[Track], dict[str, Track]]] = {}


class FileCorpus(Dataset):
    """Base of the corpus loaders; see the module docstring."""

    sample_rates: tuple[int, ...] | None = None  # the rates the publisher distributes; None: any
    mono: bool = False  # the corpus is mono: a multi-channel file is malformed (otherwise mixed down)
    default_clips_per_file = 1
    derived: dict[str, dict[str, float]] = {}  # sources computed from others, e.g. noise = noisy - clean
    source_names: tuple[str, ...] = ("audio",)  # the files a track may have
    default_sources: tuple[str, ...] = ("audio",)

    def __init__(self, root=None, *, own_params: dict | None = None, clips_per_file: int | None = None,
                 min_rms_db: float | None = None, max_zero_fraction: float | None = None,
                 loudness_dbfs: float | None = None):
        """``own_params`` are a subclass's own parameters (recorded in ``params``); the rest is preparation."""
        prep = {"clips_per_file": clips_per_file, "min_rms_db": min_rms_db,
                "max_zero_fraction": max_zero_fraction, "loudness_dbfs": loudness_dbfs}
        own = {k: v for k, v in (own_params or {}).items() if v is not None}
        super().__init__(root, **own, **{k: v for k, v in prep.items() if v is not None})
        self.clips_per_file = int(clips_per_file or self.default_clips_per_file)
        if self.clips_per_file < 1:
            raise ValueError(f"{self.name}: clips_per_file must be at least 1, not {clips_per_file}")
        if max_zero_fraction is not None and not 0 <= max_zero_fraction <= 1:
            raise ValueError(f"{self.name}: max_zero_fraction must lie in [0, 1], not {max_zero_fraction}")
        self.min_rms_db, self.max_zero_fraction, self.loudness_dbfs = min_rms_db, max_zero_fraction, loudness_dbfs
        self.sources: tuple[str, ...] = tuple(self.default_sources)

    def _choose_sources(self, sources) -> None:
        """Set the sources a clip holds (a multi-source corpus's ``sources`` parameter)."""
        chosen = (sources,) if isinstance(sources, str) else tuple(sources or self.default_sources)
        known = (*self.source_names, *self.derived)
        unknown = [s for s in chosen if s not in known]
        if unknown or not chosen:
            raise ValueError(f"{self.name}: unknown sources {unknown or chosen}; choose from {', '.join(known)}")
        self.sources = chosen

    # -- what subclasses provide ------------------------------------------------------------------------
    def scan(self) -> list[Track]:
        """Every track of the corpus (all splits), or CorpusMissing saying what is wrong."""
        raise NotImplementedError

    def variant(self) -> str:
        """Which of the accepted layouts is on disk (part of the revision when a corpus has several)."""
        return ""

    # -- errors that say what was expected where ------------------------------------------------------------
    def missing(self) -> CorpusMissing:
        where = " or ".join(str(self.data_dir / n) for n in (self.folder, *self.folder_aliases))
        return CorpusMissing(f"{self.name}: corpus not found: no folder {where} (data root {self.data_dir}: "
                             f"--data DIR, $BENCH_DATA, default ~/bench-data).\n{self._expectation()}")

    def malformed(self, reason: str) -> CorpusMissing:
        return CorpusMissing(f"{self.name}: {self.root} is not a usable corpus: {reason}.\n{self._expectation()}")

    def _expectation(self) -> str:
        layout = "\n".join("    " + line for line in self.layout.strip().splitlines())
        return f"  expected layout under {self.root}:\n{layout}\n  download: {self.url}"

    # -- listing ----------------------------------------------------------------------------------------
    @property
    def revision(self) -> str:
        version = getattr(self, "version", "1")
        try:
            variant = self.variant() if self.root is not None and self.root.is_dir() else ""
        except OSError:
            variant = ""
        return f"{version}+{variant}" if variant else version

    def tracks(self) -> list[Track]:
        return self._listing()[0]

    def _index(self) -> dict[str, Track]:
        return self._listing()[1]

    def _listing(self) -> tuple[list[Track], dict[str, Track]]:
        if self.root is None or not self.root.is_dir():
            raise self.missing()
        key = (type(self), str(self.root), json.dumps(self.params, sort_keys=True, default=str),
               self.root.stat().st_mtime_ns)
        if key not in _SCANS:
            try:
                found = self.scan()
            except OSError as exc:
                raise self.malformed(f"cannot list it ({exc})") from None
            if not found:
                raise self.malformed("no audio files found")
            _SCANS[key] = (found, {t.id: t for t in found})
        return _SCANS[key]

    def item_ids(self, split: str | None = None) -> list[str]:
        split = self._check_split(split)
        chosen = [t for t in self.tracks() if split == "all" or t.split in split_parts(split)]
        if self.clips_per_file == 1:
            return [t.id for t in chosen]
        return [f"{t.id}#{k}" for t in chosen for k in range(self.clips_per_file)]

    def check(self) -> None:
        self.tracks()

    # -- preparing a clip ---------------------------------------------------------------------------------
    def load(self, item: str, *, sr: int, seconds: float | None, rng: np.random.Generator | None = None) -> Clip:
        track_id, k = split_item(item)
        track = self._index().get(track_id)
        if track is None:
            raise ValueError(f"{self.name}: no item {track_id!r} in {self.root}")
        signals, source_sr = zip(*(self._source(track, name, sr) for name in self.sources))
        length = min(s.size for s in signals)
        x = np.stack([s[:length] for s in signals])
        start, n = self._excerpt(track, x, sr, seconds, k)
        clip = x[:, start:start + n]
        padded = n - clip.shape[1]
        if padded > 0:
            clip = np.pad(clip, ((0, 0), (0, padded)))
        meta = {**track.meta, "split": track.split, "start_s": start / sr,
                "files": sorted({self._relative(ref.path) for ref in self._refs(track)})}
        if padded > 0:
            meta["padded"] = int(padded)
        if self.loudness_dbfs is not None:
            clip, meta["gain_db"] = _normalise_loudness(clip, self.loudness_dbfs)
        if len(self.sources) > 1:
            meta["sources"] = list(self.sources)
        samples = clip[0] if len(self.sources) == 1 else clip
        return Clip(samples, sr, dataset=self.name, item=item, offset=int(round(start * source_sr[0] / sr)),
                    meta=meta)

    def _refs(self, track: Track) -> list[AudioRef]:
        refs = []
        for name in self.sources:
            recipe = self.derived.get(name) if name not in track.sources else {name: 1.0}
            refs += [track.sources[part] for part in (recipe or {}) if part in track.sources]
        return refs

    def _source(self, track: Track, name: str, sr: int) -> tuple[np.ndarray, int]:
        if name in track.sources:
            return self._read(track.sources[name], sr)
        recipe = self.derived.get(name)
        if not recipe or any(part not in track.sources for part in recipe):
            have = ", ".join(track.sources)
            raise AudioFileError(self._where(track), f"no {name!r} source for track {track.id!r} (it has {have})")
        parts = [(weight, *self._read(track.sources[part], sr)) for part, weight in recipe.items()]
        length = min(p[1].size for p in parts)
        return sum(w * s[:length] for w, s, _ in parts).astype(np.float32), parts[0][2]

    @staticmethod
    def _where(track: Track) -> Path:
        """The file of a single-file track (one wav, or one .stem.mp4), else the folder of its files."""
        paths = {ref.path for ref in track.sources.values()}
        return paths.pop() if len(paths) == 1 else next(iter(track.sources.values())).path.parent

    def _read(self, ref: AudioRef, sr: int) -> tuple[np.ndarray, int]:
        try:
            stat = ref.path.stat()
        except OSError:
            raise AudioFileError(ref.path, "no such file") from None
        parts = {"corpus": self.name, "revision": self.revision, "file": self._relative(ref.path),
                 "stream": ref.stream, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sr": int(sr),
                 "preparation": PREPARATION}

        def compute():
            data, source_sr = read_audio(ref.path, ref.stream)
            self._validate(ref, data, source_sr)
            return resample(to_mono(data), source_sr, sr), {"source_sr": source_sr}

        signal, info = cached_signal(self.name, parts, compute)
        return signal, int(info["source_sr"])

    def _validate(self, ref: AudioRef, data: np.ndarray, source_sr: int) -> None:
        if self.sample_rates and source_sr not in self.sample_rates:
            rates = " or ".join(f"{r} Hz" for r in self.sample_rates)
            raise AudioFileError(ref.path, f"sample rate {source_sr} Hz, but {self.name} is distributed at {rates} "
                                           "(a re-encoded or foreign file?)")
        if self.mono and data.shape[0] != 1:
            raise AudioFileError(ref.path, f"{data.shape[0]} channels, but {self.name} is mono "
                                           "(a re-encoded or foreign file?)")
        if not np.all(np.isfinite(data)):
            raise AudioFileError(ref.path, "contains NaN or infinite samples")

    def _excerpt(self, track: Track, x: np.ndarray, sr: int, seconds: float | None, k: int) -> tuple[int, int]:
        total = x.shape[1]
        lo, hi = int(track.span[0] * total), int(track.span[1] * total)
        if not seconds:
            if k:
                raise ValueError(f"{self.name}: item {track.id}#{k} needs a clip length (seconds)")
            return lo, hi - lo
        n = int(round(seconds * sr))
        starts = range(lo, max(lo, hi - n) + 1, n)
        usable = [s for s in starts if self._passes(x[:, s:s + n])]
        where = self._where(track)
        if not usable:
            raise AudioFileError(where, f"no {seconds:g} s window passes the silence rule "
                                        f"(min_rms_db={self.min_rms_db}, max_zero_fraction={self.max_zero_fraction})")
        if k >= len(usable):
            raise AudioFileError(where, f"excerpt {k} asked for, but only {len(usable)} non-overlapping {seconds:g} s "
                                        "windows are usable (lower clips_per_file)")
        order = np.random.default_rng(derive_seed("excerpts", self.name, track.id, sr, n)).permutation(len(usable))
        return usable[order[k]], n

    def _passes(self, window: np.ndarray) -> bool:
        if self.min_rms_db is not None:
            rms = np.sqrt(np.mean(np.square(window, dtype=np.float64), axis=1))
            if np.any(20 * np.log10(np.maximum(rms, 1e-12)) < self.min_rms_db):
                return False
        if self.max_zero_fraction is not None:
            silent = np.mean(np.abs(window) < SILENT_SAMPLE, axis=1)
            if np.any(silent > self.max_zero_fraction):
                return False
        return True

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    # -- status ---------------------------------------------------------------------------------------------
    def probe(self, max_files: int = 24) -> dict:
        """Rates, channels and durations read from the headers of up to ``max_files`` tracks spread over
        the corpus; the total duration is extrapolated to all tracks when not every track was probed."""
        tracks = self.tracks()
        picks = sorted({int(i) for i in np.linspace(0, len(tracks) - 1, min(max_files, len(tracks)))})
        rates, channels, seconds, errors = set(), set(), [], []
        for i in picks:
            track = tracks[i]
            ref = next(iter(track.sources.values()))
            try:
                info = audio_info(ref.path, ref.stream)
            except AudioFileError as exc:
                errors.append(str(exc))
                continue
            rates.add(info.sr)
            channels.add(info.channels)
            seconds.append(info.seconds * (track.span[1] - track.span[0]))
        mean = float(np.mean(seconds)) if seconds else math.nan
        return {"probed": len(picks), "sample_rates": sorted(rates), "channels": sorted(channels),
                "seconds_per_track": mean, "total_seconds": mean * len(tracks),
                "estimated": len(picks) < len(tracks), "errors": errors}


def split_item(item: str) -> tuple[str, int]:
    """``"<track>#<k>"`` -> (track, k); a plain track id -> (track, 0)."""
    match = re.fullmatch(r"(.*)#(\d+)", item)
    return (match.group(1), int(match.group(2))) if match else (item, 0)


def hash_split(key: str, test_fraction: float = 0.1, salt: str = "") -> str:
    """A stable train/test assignment for corpora the publisher does not split."""
    return "test" if derive_seed("split", salt, key) % 1000 < test_fraction * 1000 else "train"


def child(directory: Path, name: str) -> Path | None:
    """The entry of ``directory`` called ``name`` in any letter case (TIMIT ships upper and lower case)."""
    exact = directory / name
    if exact.exists():
        return exact
    lowered = name.lower()
    for entry in directory.iterdir() if directory.is_dir() else ():
        if entry.name.lower() == lowered:
            return entry
    return None


def _normalise_loudness(clip: np.ndarray, target_dbfs: float) -> tuple[np.ndarray, float]:
    rms = float(np.sqrt(np.mean(np.square(clip.sum(axis=0), dtype=np.float64))))
    if rms <= 0:
        return clip, 0.0
    gain_db = target_dbfs - 20 * math.log10(rms)
    return (clip * 10 ** (gain_db / 20)).astype(np.float32), gain_db
