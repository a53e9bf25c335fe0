"""TIMIT (Garofolo et al., 1993): 6,300 read sentences by 630 speakers of 8 US dialect regions, 16 kHz."""
from __future__ import annotations

import re

from bench.components.corpus import AudioRef, FileCorpus, Track, child
from bench.components.dataset import dataset

REGIONS = tuple(f"DR{i}" for i in range(1, 9))
_SPEAKER = re.compile(r"^[FM][A-Z]{3}\d$", re.IGNORECASE)


@dataset("timit", version="1")
class TIMIT(FileCorpus):
    """TIMIT read speech: 630 speakers (female / male) of 8 dialect regions, 16 kHz.

    As the LDC distributes it: NIST SPHERE ``.WAV`` files (read by ``bench.core.audio_io``), in
    ``TRAIN|TEST/DR<n>/<speaker>/``, the speaker folder's first letter giving the gender. Parameters:
    ``gender`` "F" or "M", ``dialect_regions`` e.g. ["DR1", "DR2", "DR3"], ``include_sa`` (the two
    dialect sentences every speaker reads; default true). Splits: train (TRAIN) and test (TEST).
    Letter case does not matter; a RIFF copy named ``X.WAV.wav`` is used only when ``X.WAV`` is absent."""

    kind = "speech"
    folder = "timit"
    folder_aliases = ("TIMIT",)
    standin = "synthetic-speech"
    url = "https://catalog.ldc.upenn.edu/LDC93S1 (licensed by the LDC)"
    layout = """
timit/TRAIN/DR1/FCJF0/SA1.WAV    NIST SPHERE header (1024 bytes) + 16-bit PCM, 16 kHz mono
timit/TEST/DR1/FAKS0/SX13.WAV    (speaker folder: F/M + initials + digit; also TIMIT/TRAIN/..., or lower case)
"""
    splits = ("train", "test")
    default_split = "test"
    sample_rates = (16000,)
    mono = True

    def __init__(self, root=None, *, gender: str | None = None, dialect_regions=None, include_sa: bool = True,
                 **prep):
        self.gender = _gender(gender)
        regions = [dialect_regions] if isinstance(dialect_regions, str) else dialect_regions
        self.regions = tuple(r.upper() for r in regions) if regions else REGIONS
        bad = [r for r in self.regions if r not in REGIONS]
        if bad:
            raise ValueError(f"timit: unknown dialect regions {bad}; they are {', '.join(REGIONS)}")
        self.include_sa = bool(include_sa)
        own = {"gender": self.gender, "dialect_regions": list(self.regions) if regions else None,
               "include_sa": None if self.include_sa else False}
        super().__init__(root, own_params=own, **prep)

    @property
    def standin_params(self):
        """A synthetic voice of the gender, with the all-pole vocal tract (real speech's long-term
        spectrum: the pitch's harmonics, where female and male voices differ most, carry the energy); a
        speaker set per choice of dialect regions, so that stand-ins of disjoint regions (a method's
        training regions and its test region) share no clip."""
        voice = {"voice": {"F": "female", "M": "male"}.get(self.gender, "any"), "tract": "all-pole"}
        return {**voice, "speakers": "+".join(self.regions)} if self.regions != REGIONS else voice

    def _base(self):
        for candidate in (self.root, child(self.root, "TIMIT"), child(self.root, "data")):
            if candidate is not None and (child(candidate, "TRAIN") or child(candidate, "TEST")):
                return candidate
        return None

    def scan(self):
        base = self._base()
        if base is None:
            raise self.malformed("no TRAIN/ or TEST/ folder")
        tracks = []
        for split in self.splits:
            split_dir = child(base, split.upper())
            for region in self.regions:
                region_dir = child(split_dir, region) if split_dir else None
                speakers = sorted(p for p in region_dir.iterdir() if p.is_dir()) if region_dir else []
                for speaker_dir in speakers:
                    speaker = speaker_dir.name.upper()
                    if not _SPEAKER.match(speaker) or (self.gender and speaker[0] != self.gender):
                        continue
                    for name, path in _utterances(speaker_dir).items():
                        if name.startswith("SA") and not self.include_sa:
                            continue
                        meta = {"speaker": speaker, "gender": speaker[0], "dialect_region": region,
                                "sentence": name}
                        tracks.append(Track(f"{split.upper()}/{region}/{speaker}/{name}",
                                            {"audio": AudioRef(path)}, split, meta))
        if not tracks:
            wanted = f"gender {self.gender or 'F or M'} in {', '.join(self.regions)}"
            raise self.malformed(f"no utterances of {wanted} (no */<DR>/<speaker>/*.WAV files)")
        return tracks


def _utterances(speaker_dir) -> dict:
    """Sentence name (SA1, SX13, ...) -> file; the SPHERE original wins over a RIFF copy (X.WAV.wav)."""
    found = {}
    for path in sorted(speaker_dir.iterdir()):
        lower = path.name.lower()
        if lower.endswith(".wav.wav"):
            found.setdefault(path.name[:-8].upper(), path)
        elif lower.endswith(".wav"):
            found[path.name[:-4].upper()] = path
    return found


def _gender(value):
    if value is None:
        return None
    code = {"f": "F", "female": "F", "m": "M", "male": "M"}.get(str(value).lower())
    if code is None:
        raise ValueError(f"timit: gender must be 'F' or 'M', not {value!r}")
    return code
