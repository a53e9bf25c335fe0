"""The drum and piano sets released with WaveGAN (Donahue et al., 2019), or NSynth notes in their place."""
from __future__ import annotations

from bench.datasets import nsynth

from bench.components.corpus import AudioRef, FileCorpus, Track, child
from bench.components.dataset import dataset


class WaveGANSet(FileCorpus):
    """A WaveGAN set (``<folder>/{train,valid,test}/*.wav``), or NSynth notes in its place.

    The WaveGAN layout ``<folder>/{train,valid,test}/*.wav``; or, with ``layout="nsynth"``, the NSynth notes of
    one instrument ``family`` (and optionally ``instrument_source``: acoustic, electronic, synthetic) read
    from ``<data>/nsynth``. Files are mixed to mono; any source rate is accepted (the WaveGAN archives
    do not document one)."""

    splits = ("train", "valid", "test")
    default_split = "test"
    default_family: str | None = None

    def __init__(self, root=None, *, layout: str = "wavegan", family: str | None = None,
                 instrument_source: str | None = None, **prep):
        if layout not in ("wavegan", "nsynth"):
            raise ValueError(f"layout must be 'wavegan' or 'nsynth', not {layout!r}")
        if layout == "wavegan" and (family or instrument_source):
            raise ValueError("family and instrument_source select NSynth notes; they need layout='nsynth'")
        self.nsynth = layout == "nsynth"
        self.family = family or self.default_family
        self.instrument_source = instrument_source
        if self.nsynth:
            if self.family not in nsynth.FAMILIES:
                raise ValueError(f"NSynth instrument families are {', '.join(nsynth.FAMILIES)} (there is no "
                                 f"drum family); got family={self.family!r}")
            if instrument_source not in (None, *nsynth.SOURCES):
                raise ValueError(f"instrument_source must be one of {', '.join(nsynth.SOURCES)}")
            self.folder, self.folder_aliases = "nsynth", ("NSynth",)
            self.layout, self.url = nsynth.LAYOUT, nsynth.URL
            if prep.get("clips_per_file") is None:
                prep["clips_per_file"] = 1  # a note is 4 s: one excerpt each
        own = {"layout": None if layout == "wavegan" else layout, "family": family,
               "instrument_source": instrument_source}
        super().__init__(root, own_params=own, **prep)

    def variant(self):
        return f"nsynth-{self.family}-{self.instrument_source or 'any'}" if self.nsynth else "wavegan"

    def scan(self):
        if self.nsynth:
            return nsynth.scan_nsynth(self.root, self.family, self.instrument_source, self.malformed)
        base = self.root
        nested = child(self.root, self.folder)  # archives that unpack to <name>/<name>/train
        if not any(child(base, s) for s in self.splits) and nested is not None:
            base = nested
        folders = [(child(base, s), s) for s in self.splits]
        if not any(f for f, _ in folders):
            raise self.malformed("no train/ valid/ test/ folders")
        return [Track(f"{split}/{wav.stem}", {"audio": AudioRef(wav)}, split, {})
                for folder, split in folders if folder for wav in sorted(folder.glob("*.wav"))]


@dataset("wavegan-drums", version="1")
class WaveGANDrums(WaveGANSet):
    """WaveGAN's drum set: single drum hits (kicks, snares, toms, cymbals), about 1 s at 16 kHz."""

    kind = "drums"
    folder = "drums"
    folder_aliases = ("wavegan-drums",)
    standin = "synthetic-drums"
    url = "http://deepyeti.ucsd.edu/cdonahue/wavegan/data/drums.tar.gz"
    layout = """
drums/train/*.wav, drums/valid/*.wav, drums/test/*.wav    one drum hit per file, about 1 s
"""


@dataset("wavegan-piano", version="1")
class WaveGANPiano(WaveGANSet):
    """WaveGAN's piano set: Bach performances (clips over 50 s at 48 kHz, says the spectral-prior paper).

    A file holds many clips: 16 non-overlapping excerpts per file are items by default.
    """

    kind = "piano"
    folder = "piano"
    folder_aliases = ("mancini_piano", "wavegan-piano")
    standin = "synthetic-piano"
    url = "http://deepyeti.ucsd.edu/cdonahue/wavegan/data/mancini_piano.tar.gz"
    layout = """
piano/train/*.wav, piano/valid/*.wav, piano/test/*.wav    long piano performances
(the archive may unpack as mancini_piano/piano/...: mancini_piano/ is found too)
"""
    default_clips_per_file = 16
    default_family = "keyboard"
