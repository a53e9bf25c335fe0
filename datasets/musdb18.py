"""MUSDB18 (Rafii et al., 2017): 150 music tracks with vocals, drums, bass and other stems, 44.1 kHz stereo."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from bench.components.corpus import AudioRef, FileCorpus, Track
from bench.components.dataset import dataset, split_parts

NATIVE_RATE = 44100
STEMS = ("mixture", "drums", "bass", "other", "vocals")  # stream order inside a .stem.mp4


def validation_tracks() -> frozenset[str]:
    """The 14 training tracks that the musdb package sets aside for validation (read from its config
    file without importing musdb, whose import needs ffmpeg); empty when musdb is not installed."""
    spec = importlib.util.find_spec("musdb")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    config = Path(next(iter(spec.submodule_search_locations))) / "configs" / "mus.yaml"
    try:
        import yaml

        return frozenset(yaml.safe_load(config.read_text()).get("validation_tracks", []))
    except (OSError, ImportError, AttributeError, ValueError):
        return frozenset()


@dataset("musdb18", version="1")
class MUSDB18(FileCorpus):
    """MUSDB18 music stems: vocals and accompaniment (or any stems) of 150 tracks.

    MUSDB18 or MUSDB18-HQ: decoded wav folders (one folder per track) or the distributed .stem.mp4 files
    (decoded with stempeg, which needs ffmpeg). A clip is (2, T) [vocals, accompaniment] by default;
    ``sources=[...]`` picks others among mixture, drums, bass, other, vocals, accompaniment (one source
    gives a (T,) clip). accompaniment.wav is used when present, else drums + bass + other. Stereo is
    mixed to mono. Splits: test (50 tracks), train (86) and valid (the musdb package's 14 validation
    tracks); 8 non-overlapping excerpts per track are items by default.

    ``segment_s`` (Mimilakis et al.'s evaluation): every non-overlapping window of that length, in time
    order, is an item ``<track>#<k>`` (k-th window from the start; the tail shorter than a window is
    left out), and clips must be that long; ``min_vocal_norm`` leaves out, when items are listed, the
    windows whose vocals (mono, 44.1 kHz, as distributed) have an L2 norm below it (the public code's
    silence rule, 0.1). Listing reads every vocals file of the split once (cached). Levels are the
    corpus's own: nothing is normalised unless ``loudness_dbfs`` is set."""

    kind = "music-stems"
    folder = "musdb18"
    folder_aliases = ("MUSDB18", "musdb18hq", "MUSDB18-HQ", "musdb")
    standin = "synthetic-singing"
    url = "https://sigsep.github.io/datasets/musdb.html (zenodo 1117372: musdb18.zip; 3338373: MUSDB18-HQ)"
    layout = """
musdb18/train/<track>/{mixture,vocals,drums,bass,other}.wav   (+ accompaniment.wav, optional) 44.1 kHz
musdb18/test/<track>/...                                      (decoded, e.g. by musdbconvert, or MUSDB18-HQ)
or the distributed stems: musdb18/{train,test}/<track>.stem.mp4   (streams: mixture, drums, bass, other, vocals)
"""
    splits = ("train", "valid", "test")
    default_split = "test"
    sample_rates = (44100,)
    default_clips_per_file = 8
    source_names = (*STEMS, "accompaniment")
    derived = {"accompaniment": {"drums": 1.0, "bass": 1.0, "other": 1.0}}
    default_sources = ("vocals", "accompaniment")

    def __init__(self, root=None, *, sources=None, segment_s: float | None = None,
                 min_vocal_norm: float | None = None, **prep):
        if segment_s is not None and segment_s <= 0 or min_vocal_norm is not None and segment_s is None:
            raise ValueError(f"musdb18: segment_s must be positive (and is needed by min_vocal_norm), "
                             f"not segment_s={segment_s}, min_vocal_norm={min_vocal_norm}")
        super().__init__(root, own_params={"sources": sources, "segment_s": segment_s,
                                           "min_vocal_norm": min_vocal_norm}, **prep)
        self._choose_sources(sources)
        self.segment_s, self.min_vocal_norm = segment_s, min_vocal_norm

    def item_ids(self, split=None):
        if self.segment_s is None:
            return super().item_ids(split)
        split = self._check_split(split)
        return [f"{t.id}#{k}" for t in self.tracks() if split == "all" or t.split in split_parts(split) for k in self._kept_segments(t)]

    def _kept_segments(self, track) -> list[int]:
        vocals, _ = self._source(track, "vocals", NATIVE_RATE)
        n = int(round(self.segment_s * NATIVE_RATE))
        windows = vocals[: vocals.size // n * n].reshape(-1, n)
        norms = np.linalg.norm(windows.astype(np.float64), axis=1)
        return [k for k, norm in enumerate(norms) if self.min_vocal_norm is None or norm >= self.min_vocal_norm]

    def _excerpt(self, track, x, sr, seconds, k):
        if self.segment_s is None:
            return super()._excerpt(track, x, sr, seconds, k)
        if seconds is None or abs(seconds - self.segment_s) > 1e-9:
            raise ValueError(f"musdb18: items are {self.segment_s:g} s segments (segment_s), so clips must be "
                             f"{self.segment_s:g} s long, not {seconds}")
        n = int(round(seconds * sr))
        return k * n, n

    def variant(self):
        folders = [self.root / s for s in ("train", "test") if (self.root / s).is_dir()]
        if any(any(f.glob("*.stem.mp4")) for f in folders):
            return "stems"
        return "wav" if folders else ""

    def scan(self):
        folders = [(self.root / s, s) for s in ("train", "test") if (self.root / s).is_dir()]
        if not folders:
            raise self.malformed("no train/ or test/ folder")
        held_out = validation_tracks()
        tracks = {}
        for folder, subset in folders:
            for stem_file in sorted(folder.glob("*.stem.mp4")):
                name = stem_file.name[: -len(".stem.mp4")]
                refs = {s: AudioRef(stem_file, i) for i, s in enumerate(STEMS)}
                tracks[f"{subset}/{name}"] = self._track(subset, name, refs, held_out)
            for track_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
                refs = {s: AudioRef(track_dir / f"{s}.wav") for s in self.source_names
                        if (track_dir / f"{s}.wav").is_file()}
                if refs:  # a decoded folder is preferred to the stem file of the same track
                    tracks[f"{subset}/{track_dir.name}"] = self._track(subset, track_dir.name, refs, held_out)
        return list(tracks.values())

    @staticmethod
    def _track(subset, name, refs, held_out):
        split = "valid" if subset == "train" and name in held_out else subset
        return Track(f"{subset}/{name}", refs, split, {"track": name, "subset": subset})
