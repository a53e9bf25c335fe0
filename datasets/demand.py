"""DEMAND (Thiemann, Ito & Vincent, 2013): 16-channel recordings of 18 noise environments, 5 min each."""
from __future__ import annotations

import re

from bench.components.corpus import AudioRef, FileCorpus, Track, child
from bench.components.dataset import dataset

ENVIRONMENTS = ("DKITCHEN", "DLIVING", "DWASHING", "NFIELD", "NPARK", "NRIVER", "OHALLWAY", "OMEETING",
                "OOFFICE", "PCAFETER", "PRESTO", "PSTATION", "SCAFE", "SPSQUARE", "STRAFFIC", "TBUS", "TCAR",
                "TMETRO")
TEST_FROM = 0.8  # train: the first 80 % of every recording, test: the last 20 %


@dataset("demand", version="1")
class DEMAND(FileCorpus):
    """DEMAND environmental noise: 18 environments, 16 microphone channels each.

    Files ``<ENV>/ch01.wav .. ch16.wav`` (16 or 48 kHz mono). Parameters:
    ``environment`` (one name such as "DLIVING" or "STRAFFIC", or a list; default all), ``channels``
    (channel numbers, default all 16). The publisher defines no split; the recordings are split in time:
    train is the first 80 % of each file, test the last 20 % (channels of one environment are recorded at
    once, so a split by channel would leak). 8 non-overlapping excerpts per file are items by default.
    Each environment folder may also sit inside the folder its zip unpacks to (``DLIVING_16k/DLIVING``)."""

    kind = "noise"
    folder = "demand"
    folder_aliases = ("DEMAND",)
    standin = "synthetic-noise"
    url = "https://zenodo.org/record/1227121 (DEMAND: <ENV>_16k.zip or <ENV>_48k.zip per environment)"
    layout = """
demand/DLIVING/ch01.wav ... demand/DLIVING/ch16.wav    one mono file per microphone, 300 s
demand/STRAFFIC/ch01.wav ...                           (environments: DKITCHEN ... TMETRO)
"""
    splits = ("train", "test")
    default_split = "test"
    sample_rates = (16000, 48000)
    mono = True
    default_clips_per_file = 8

    def __init__(self, root=None, *, environment=None, channels=None, **prep):
        names = [environment] if isinstance(environment, str) else list(environment or ENVIRONMENTS)
        self.environments = tuple(n.upper() for n in names)
        unknown = [n for n in self.environments if n not in ENVIRONMENTS]
        if unknown:
            raise ValueError(f"demand: unknown environments {unknown}; they are {', '.join(ENVIRONMENTS)}")
        self.channels = tuple(int(c) for c in channels) if channels else tuple(range(1, 17))
        if any(not 1 <= c <= 16 for c in self.channels):
            raise ValueError("demand: channels are numbered 1 to 16")
        own = {"environment": environment, "channels": list(channels) if channels else None}
        super().__init__(root, own_params=own, **prep)

    @property
    def standin_params(self):
        # The stand-in has two scenes: domestic, office, public and nature -> living; street, transport -> traffic.
        return {"scene": "traffic" if all(e[0] in "ST" for e in self.environments) else "living"}

    def _environment_dir(self, name):
        for candidate in (child(self.root, name), child(self.root, f"{name}_48k"), child(self.root, f"{name}_16k")):
            if candidate is not None:
                inner = child(candidate, name)
                return inner if inner is not None and inner.is_dir() else candidate
        return None

    def scan(self):
        tracks = []
        missing = []
        for env in self.environments:
            folder = self._environment_dir(env)
            if folder is None:
                missing.append(env)
                continue
            files = {int(m.group(1)): p for p in folder.iterdir()
                     if (m := re.fullmatch(r"ch(\d+)\.wav", p.name, re.IGNORECASE))}
            for channel in self.channels:
                if channel not in files:
                    continue
                ref = {"audio": AudioRef(files[channel])}
                meta = {"environment": env, "channel": channel}
                tracks.append(Track(f"train/{env}/ch{channel:02d}", ref, "train", meta, (0.0, TEST_FROM)))
                tracks.append(Track(f"test/{env}/ch{channel:02d}", ref, "test", meta, (TEST_FROM, 1.0)))
        if missing and len(missing) == len(self.environments):
            raise self.malformed(f"no environment folder ({', '.join(missing)})")
        if not tracks:
            raise self.malformed(f"no chNN.wav files in {', '.join(self.environments)}")
        if missing and len(self.environments) < len(ENVIRONMENTS):
            raise self.malformed(f"environment folder(s) {', '.join(missing)} missing")
        return tracks
