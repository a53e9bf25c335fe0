"""SC09: the spoken digits "zero" to "nine" of Speech Commands (Warden, 2018), 1 s at 16 kHz."""
from __future__ import annotations

import hashlib
import re

from bench.components.corpus import AudioRef, FileCorpus, Track, child
from bench.components.dataset import dataset

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_MAX_PER_CLASS = 2**27 - 1  # from the Speech Commands split rule


def speech_commands_split(filename: str) -> str:
    """The publisher's rule for files missing from the split lists: a hash of the speaker part of the name
    puts 10 % in validation and 10 % in testing, so one speaker's takes stay in one split."""
    speaker = re.sub(r"_nohash_.*$", "", filename)
    share = (int(hashlib.sha1(speaker.encode()).hexdigest(), 16) % (_MAX_PER_CLASS + 1)) * (100.0 / _MAX_PER_CLASS)
    return "valid" if share < 10 else "test" if share < 20 else "train"


@dataset("sc09", version="1")
class SC09(FileCorpus):
    """SC09: the spoken digits zero to nine of Speech Commands, 1 s at 16 kHz.

    Read from a Speech Commands folder (v0.01 or v0.02; only the ten digit words are
    read; splits from validation_list.txt / testing_list.txt) or from the WaveGAN SC09 subset
    (``sc09/{train,valid,test}/*.wav``, the digit word first in each file name)."""

    kind = "digits"
    folder = "sc09"
    folder_aliases = ("speech_commands_v0.02", "speech_commands_v0.01", "speech_commands", "SpeechCommands")
    standin = "synthetic-digits"
    url = ("http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz (Speech Commands; the archive "
           "unpacks into the current folder) or http://deepyeti.ucsd.edu/cdonahue/sc09.tar.gz (WaveGAN's SC09)")
    layout = """
Speech Commands layout:
  sc09/zero/0c40e715_nohash_0.wav ... sc09/nine/...   16 kHz mono, <= 1 s (other word folders are ignored)
  sc09/validation_list.txt, sc09/testing_list.txt     relative paths, one per line
or the WaveGAN SC09 subset:
  sc09/train/Zero_0c40e715_nohash_0.wav, sc09/valid/..., sc09/test/...
"""
    splits = ("train", "valid", "test")
    default_split = "test"
    sample_rates = (16000,)
    mono = True

    def variant(self):
        if any(child(self.root, d) for d in DIGITS):
            return "speech-commands"
        return "wavegan" if any(child(self.root, s) for s in self.splits) else ""

    def scan(self):
        kind = self.variant()
        if kind == "speech-commands":
            return self._scan_speech_commands()
        if kind == "wavegan":
            return self._scan_wavegan()
        raise self.malformed("neither digit word folders (zero/ ... nine/) nor train/ valid/ test/ folders")

    def _scan_speech_commands(self):
        lists = {}
        for split, name in (("valid", "validation_list.txt"), ("test", "testing_list.txt")):
            path = self.root / name
            if path.is_file():
                lists.update({line.strip(): split for line in path.read_text().splitlines() if line.strip()})
        tracks = []
        for digit in DIGITS:
            folder = child(self.root, digit)
            for wav in sorted(folder.glob("*.wav")) if folder else ():
                rel = f"{folder.name}/{wav.name}"
                split = lists.get(rel) if lists else speech_commands_split(wav.name)
                tracks.append(Track(rel[:-4], {"audio": AudioRef(wav)}, split or "train",
                                    {"digit": digit, "speaker": wav.name.split("_nohash_")[0]}))
        return tracks

    def _scan_wavegan(self):
        tracks = []
        for split in self.splits:
            folder = child(self.root, split)
            for wav in sorted(folder.glob("*.wav")) if folder else ():
                word, _, rest = wav.stem.partition("_")
                meta = {"digit": word.lower()} if word.lower() in DIGITS else {}
                if "_nohash_" in rest:
                    meta["speaker"] = rest.split("_nohash_")[0]
                tracks.append(Track(f"{folder.name}/{wav.stem}", {"audio": AudioRef(wav)}, split, meta))
        return tracks
