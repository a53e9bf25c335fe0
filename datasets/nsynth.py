"""Reading the NSynth layout (Engel et al., 2017): ``nsynth-{train,valid,test}/examples.json`` + ``audio/``.

Not a registered corpus of its own: the WaveGAN piano and drum loaders read it with an instrument-family
filter (``layout="nsynth"``). NSynth notes are 4 s, 16 kHz, mono.
"""
from __future__ import annotations

import json
from pathlib import Path

from bench.components.corpus import AudioRef, Track

FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead",
            "vocal")
SOURCES = ("acoustic", "electronic", "synthetic")
SPLITS = {"nsynth-train": "train", "nsynth-valid": "valid", "nsynth-test": "test"}

LAYOUT = """
nsynth/nsynth-test/examples.json         {note_str: {instrument_family_str, instrument_source_str, pitch, ...}}
nsynth/nsynth-test/audio/<note_str>.wav   16 kHz mono, 4 s; likewise nsynth-train/ and nsynth-valid/
"""
URL = "https://magenta.tensorflow.org/datasets/nsynth (nsynth-{train,valid,test}.jsonwav.tar.gz)"


def scan_nsynth(root: Path, family: str, source: str | None, malformed) -> list[Track]:
    """Tracks of one instrument family (and source) in every split folder present under ``root``.

    ``malformed(reason)`` builds the error raised for an unusable folder.
    """
    found = [(root / name, split) for name, split in SPLITS.items() if (root / name).is_dir()]
    if not found:
        raise malformed(f"no {', '.join(SPLITS)} folder")
    tracks = []
    for folder, split in found:
        examples_file = folder / "examples.json"
        if not examples_file.is_file():
            raise malformed(f"{folder.name}/ has no examples.json")
        try:
            examples = json.loads(examples_file.read_text())
        except ValueError as exc:
            raise malformed(f"{examples_file} is not valid JSON ({exc})") from None
        for note, info in sorted(examples.items()):
            if info.get("instrument_family_str") != family:
                continue
            if source and info.get("instrument_source_str") != source:
                continue
            meta = {k: info[k] for k in ("instrument_str", "pitch", "velocity") if k in info}
            tracks.append(Track(f"{folder.name}/{note}", {"audio": AudioRef(folder / "audio" / f"{note}.wav")},
                                split, {"family": family, **meta}))
    return tracks
