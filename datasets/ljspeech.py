"""LJSpeech 1.1: 13,100 sentences read by one female speaker, 22.05 kHz mono (Ito & Johnson, 2017)."""
from __future__ import annotations

from bench.components.corpus import AudioRef, FileCorpus, Track, hash_split
from bench.components.dataset import dataset


@dataset("ljspeech", version="1")
class LJSpeech(FileCorpus):
    """LJSpeech 1.1 (one female speaker reading; the spectral-prior paper's speech corpus, 2 s clips).

    The publisher defines no split; ``test`` is a stable 5 % of the clips chosen by a hash of the clip id,
    ``train`` the rest, ``all`` everything. Only clips listed in metadata.csv whose wav is present count.
    """

    kind = "speech"
    folder = "LJSpeech-1.1"
    folder_aliases = ("ljspeech", "LJSpeech")
    standin = "synthetic-speech"
    url = "https://keithito.com/LJ-Speech-Dataset/ (LJSpeech-1.1.tar.bz2)"
    layout = """
LJSpeech-1.1/metadata.csv            one line per clip: id|transcription|normalized transcription
LJSpeech-1.1/wavs/LJ001-0001.wav     22050 Hz, mono, 16-bit PCM (13,100 files)
"""
    splits = ("train", "test")
    default_split = "test"
    sample_rates = (22050,)
    mono = True

    @property
    def standin_params(self):
        return {"voice": "female"}  # one female reader

    def scan(self):
        metadata, wavs = self.root / "metadata.csv", self.root / "wavs"
        if not metadata.is_file():
            raise self.malformed("no metadata.csv")
        if not wavs.is_dir():
            raise self.malformed("no wavs/ folder")
        present = {p.name for p in wavs.iterdir()}
        ids = [line.split("|", 1)[0].strip() for line in metadata.read_text(encoding="utf-8").splitlines()]
        ids = [i for i in ids if i]
        if not ids:
            raise self.malformed("metadata.csv lists no clips")
        tracks = [Track(i, {"audio": AudioRef(wavs / f"{i}.wav")}, hash_split(i, 0.05, "ljspeech"),
                        {"speaker": "LJ", "gender": "F"})
                  for i in ids if f"{i}.wav" in present]
        if not tracks:
            raise self.malformed(f"metadata.csv lists {len(ids)} clips but none of them is in wavs/")
        return tracks
