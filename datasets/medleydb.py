"""MedleyDB (Bittner et al., 2014; 2.0: 2016): multitrack recordings with per-instrument stems, 44.1 kHz."""
from __future__ import annotations

from bench.components.corpus import AudioRef, FileCorpus, Track, child, hash_split
from bench.components.dataset import dataset

VOICE_WORDS = ("singer", "vocal", "rapper", "speaker", "choir", "beatbox")


@dataset("medleydb", version="1")
class MedleyDB(FileCorpus):
    """MedleyDB instrument stems (every stem that is not a voice, or the instruments asked for).

    Each track folder ``Audio/<Track>/`` holds ``<Track>_METADATA.yaml``
    (or ``Metadata/<Track>_METADATA.yaml`` beside ``Audio/``) naming each stem's instrument, and the stems
    in ``<Track>_STEMS/``. Items are stems (``<Track>/S01``): by default every stem that is not a voice;
    ``instruments`` (a label or a list, MedleyDB's instrument names such as "piano", "violin",
    "electric bass") keeps only those. Stems rest silent for long stretches, so by default a window with
    more than 20 % digitally silent samples is skipped (the waveform-prior paper's rule);
    ``max_zero_fraction=1`` turns that off. Stereo stems are mixed to mono. The publisher defines no split:
    test is a stable 20 % of the tracks (by a hash of the track name), train the rest."""

    kind = "instruments"
    folder = "medleydb"
    folder_aliases = ("MedleyDB", "MedleyDB_V2", "MedleyDB_V1")
    standin = "synthetic-piano"
    url = "https://medleydb.weebly.com/ (zenodo 1649325 for 1.0, 1715175 for 2.0; access on request)"
    layout = """
medleydb/Audio/<Track>/<Track>_METADATA.yaml      stems: {S01: {instrument: ..., filename: ...}, ...}
medleydb/Audio/<Track>/<Track>_STEMS/<Track>_STEM_01.wav ...   44.1 kHz
(metadata may instead be in medleydb/Metadata/<Track>_METADATA.yaml)
"""
    splits = ("train", "test")
    default_split = "test"
    sample_rates = (44100,)
    default_clips_per_file = 4

    def __init__(self, root=None, *, instruments=None, max_zero_fraction: float | None = 0.2, **prep):
        names = [instruments] if isinstance(instruments, str) else instruments
        self.instruments = tuple(n.lower() for n in names) if names else None
        own = {"instruments": list(self.instruments)} if self.instruments else {}
        super().__init__(root, own_params=own, max_zero_fraction=max_zero_fraction, **prep)

    def scan(self):
        import yaml

        audio = child(self.root, "Audio")
        if audio is None:
            raise self.malformed("no Audio/ folder")
        tracks = []
        for track_dir in sorted(p for p in audio.iterdir() if p.is_dir()):
            name = track_dir.name
            metadata = track_dir / f"{name}_METADATA.yaml"
            if not metadata.is_file():
                metadata = self.root / "Metadata" / f"{name}_METADATA.yaml"
            if not metadata.is_file():
                raise self.malformed(f"track {name} has no {name}_METADATA.yaml")
            try:
                info = yaml.safe_load(metadata.read_text()) or {}
                stems = info.get("stems") or {}
                stem_dir = track_dir / (info.get("stem_dir") or f"{name}_STEMS")
            except (yaml.YAMLError, AttributeError) as exc:
                raise self.malformed(f"{metadata} is not MedleyDB metadata ({exc})") from None
            for stem_id, stem in sorted(stems.items()):
                labels = stem.get("instrument", "")
                labels = [str(x).lower() for x in (labels if isinstance(labels, list) else [labels])]
                instrument = ", ".join(labels)
                if not self._wanted(labels):
                    continue
                path = stem_dir / str(stem.get("filename", f"{name}_STEM_{stem_id[1:]}.wav"))
                tracks.append(Track(f"{name}/{stem_id}", {"audio": AudioRef(path)},
                                    hash_split(name, 0.2, "medleydb"),
                                    {"track": name, "stem": stem_id, "instrument": instrument}))
        if not tracks:
            wanted = ", ".join(self.instruments) if self.instruments else "any non-vocal instrument"
            raise self.malformed(f"no stems of {wanted}")
        return tracks

    def _wanted(self, labels: list[str]) -> bool:
        if self.instruments:
            return any(label in self.instruments for label in labels)
        return not any(word in label for label in labels for word in VOICE_WORDS)
