"""Small corpora in their publishers' layouts, written by the tests (wav, flac, NIST SPHERE, .stem.mp4).

Each builder writes one corpus under a data root and returns what it wrote, so tests can compare a
loaded clip with the signal in the file. ``python tests/corpus_fixtures.py DIR`` writes them all.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf


def signal(kind: str, seconds: float, sr: int, seed: int) -> np.ndarray:
    """A cheap structured test signal, peak 0.5, quantised to 16 bits (so a file holds it exactly):
    "noise" is noise; anything else a few harmonics of a random pitch under a slow envelope, plus noise."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    if kind == "noise":
        x = rng.standard_normal(n)
    else:
        f0 = rng.uniform(100, 400)
        x = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) / k for k in range(1, 6))
        x = x * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(1, 4) * t)) + 0.05 * rng.standard_normal(n)
    x = 0.5 * x / (np.max(np.abs(x)) + 1e-9)
    return np.round(x * 32768) / 32768


def write_wav(path: Path, x: np.ndarray, sr: int, subtype: str = "PCM_16") -> np.ndarray:
    """Write (T,) or (C, T) audio (WAV or FLAC by the suffix); return exactly what a reader gets back.

    16-bit data are written as integers: libsndfile scales floats by 32767 on writing but 1/32768 on
    reading, so a float round trip is not exact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if subtype == "PCM_16":
        pcm = np.clip(np.round(np.asarray(x) * 32768), -32768, 32767).astype(np.int16)
        sf.write(path, pcm.T if pcm.ndim == 2 else pcm, sr, subtype=subtype)
        return pcm.astype(np.float64) / 32768
    data = np.asarray(x, dtype=np.float32)
    sf.write(path, data.T if data.ndim == 2 else data, sr, subtype=subtype)
    return data.astype(np.float64)


def write_sphere(path: Path, x: np.ndarray, sr: int = 16000, utterance: str = "utt") -> np.ndarray:
    """A TIMIT-style NIST SPHERE file: a 1024-byte ASCII header, then little-endian 16-bit PCM."""
    pcm = np.round(np.clip(x, -1, 1) * 32767).astype("<i2")
    fields = [("database_id", "-s5", "TIMIT"), ("database_version", "-s3", "1.0"),
              ("utterance_id", f"-s{len(utterance)}", utterance), ("channel_count", "-i", 1),
              ("sample_count", "-i", pcm.size), ("sample_rate", "-i", sr), ("sample_min", "-i", int(pcm.min())),
              ("sample_max", "-i", int(pcm.max())), ("sample_n_bytes", "-i", 2), ("sample_byte_format", "-s2", "01"),
              ("sample_sig_bits", "-i", 16)]
    text = "NIST_1A\n   1024\n" + "".join(f"{n} {t} {v}\n" for n, t, v in fields) + "end_head\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("ascii").ljust(1024, b" ") + pcm.tobytes())
    return pcm.astype(np.float32) / 32768


def ljspeech(root: Path) -> dict:
    base = root / "LJSpeech-1.1"
    ids = [f"LJ001-{i:04d}" for i in range(1, 7)]
    written = {i: write_wav(base / "wavs" / f"{i}.wav", signal("speech", 2.5 + 0.5 * k, 22050, k), 22050)
               for k, i in enumerate(ids)}
    (base / "metadata.csv").write_text("".join(f"{i}|Text {i}.|Text {i}.\n" for i in ids))
    return written


def sc09(root: Path) -> dict:
    """Speech Commands layout: digit folders (plus a non-digit word) and the split lists."""
    base = root / "sc09"
    written = {}
    for d, digit in enumerate(("zero", "one", "two")):
        for speaker in ("0a1b2c3d", "4e5f6a7b"):
            rel = f"{digit}/{speaker}_nohash_0.wav"
            written[rel] = write_wav(base / rel, signal("speech", 0.8 + 0.1 * d, 16000, d), 16000)
    write_wav(base / "yes" / "0a1b2c3d_nohash_0.wav", signal("speech", 1, 16000, 9), 16000)
    (base / "testing_list.txt").write_text("zero/0a1b2c3d_nohash_0.wav\none/0a1b2c3d_nohash_0.wav\n")
    (base / "validation_list.txt").write_text("two/0a1b2c3d_nohash_0.wav\n")
    return written


def sc09_wavegan(root: Path) -> None:
    for split in ("train", "valid", "test"):
        for k, word in enumerate(("Zero", "Nine")):
            write_wav(root / "sc09" / split / f"{word}_0a1b2c3d_nohash_{k}.wav", signal("speech", 1, 16000, k), 16000)


def drums(root: Path) -> None:
    for split, count in (("train", 3), ("valid", 1), ("test", 2)):
        for k in range(count):
            write_wav(root / "drums" / split / f"hit_{k}.wav", signal("drums", 0.7, 16000, k), 16000)


def piano(root: Path) -> dict:
    """As the WaveGAN archive unpacks: mancini_piano/piano/{train,test}/ (stereo, 48 kHz, 6 s files)."""
    written = {}
    for split in ("train", "test"):
        x = signal("piano", 6, 48000, 3)
        written[split] = write_wav(root / "mancini_piano" / "piano" / split / f"bach_{split}.wav",
                                   np.stack([x, 0.5 * x]), 48000)
    return written


def nsynth(root: Path) -> None:
    base = root / "nsynth" / "nsynth-test"
    examples = {}
    for k, (family, source) in enumerate([("keyboard", "acoustic"), ("keyboard", "electronic"),
                                          ("mallet", "acoustic"), ("guitar", "acoustic")]):
        note = f"{family}_{source}_{k:03d}-060-100"
        write_wav(base / "audio" / f"{note}.wav", signal("piano", 4, 16000, k), 16000)
        examples[note] = {"note_str": note, "instrument_family_str": family, "instrument_source_str": source,
                          "instrument_str": f"{family}_{source}_{k:03d}", "pitch": 60, "velocity": 100,
                          "sample_rate": 16000}
    (base / "examples.json").write_text(json.dumps(examples))


MUSDB_TRACKS = {"train": ["Actions - One Minute Smile", "A Classic Education - NightOwl"],
                "test": ["Al James - Schoolboy Facination", "AM Contra - Heart Peripheral"]}


def musdb(root: Path, accompaniment_file: bool = False) -> dict:
    """Decoded wav folders (44.1 kHz stereo, 4 s); the first train track is a musdb validation track."""
    written = {}
    for subset, names in MUSDB_TRACKS.items():
        for k, name in enumerate(names):
            folder = root / "musdb18" / subset / name
            stems = {"vocals": signal("speech", 4, 44100, k), "drums": 0.5 * signal("drums", 4, 44100, k),
                     "bass": 0.3 * signal("piano", 4, 44100, k + 10), "other": 0.3 * signal("piano", 4, 44100, k)}
            stems["mixture"] = sum(stems.values())
            if accompaniment_file:
                stems["accompaniment"] = stems["drums"] + stems["bass"] + stems["other"]
            for s, x in stems.items():
                write_wav(folder / f"{s}.wav", np.stack([x, x]), 44100, subtype="FLOAT")
            written[f"{subset}/{name}"] = stems
    return written


def musdb_stem_file(root: Path) -> dict:
    """One track as a distributed .stem.mp4 (AAC streams: mixture, drums, bass, other, vocals)."""
    import stempeg

    stems = {"vocals": signal("speech", 3, 44100, 1), "drums": 0.5 * signal("drums", 3, 44100, 1),
             "bass": 0.3 * signal("piano", 3, 44100, 11), "other": 0.3 * signal("piano", 3, 44100, 1)}
    mixture = sum(stems.values())
    order = [mixture, stems["drums"], stems["bass"], stems["other"], stems["vocals"]]
    path = root / "musdb18" / "test" / "Stem Track - Encoded.stem.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    stempeg.write_stems(str(path), np.stack([np.stack([x, x], axis=1) for x in order]), sample_rate=44100,
                        writer=stempeg.StreamsWriter(codec="aac", bitrate=256000))
    return {"mixture": mixture, **stems}


TIMIT_SPEAKERS = {("TRAIN", "DR1"): ["FCJF0", "MDAB0"], ("TRAIN", "DR2"): ["FAEM0"],
                  ("TEST", "DR3"): ["FALK0", "MADC0"]}


def timit(root: Path) -> dict:
    written = {}
    for (split, region), speakers in TIMIT_SPEAKERS.items():
        for s, speaker in enumerate(speakers):
            for u, sentence in enumerate(("SA1", "SX13", "SI943")):
                path = root / "timit" / "TIMIT" / split / region / speaker / f"{sentence}.WAV"
                x = signal("speech", 1.5 + 0.25 * u, 16000, 7 * s + u)
                written[f"{split}/{region}/{speaker}/{sentence}"] = write_sphere(path, x, 16000,
                                                                                 f"{speaker}_{sentence}".lower())
                (path.with_suffix(".TXT")).write_text("0 100 Some text.\n")
    return written


def valentini(root: Path) -> dict:
    written = {}
    for split, folder, speakers in (("test", "testset", ("p232", "p257")), ("train", "trainset_28spk", ("p226",))):
        for s, speaker in enumerate(speakers):
            for u in (1, 2):
                name = f"{speaker}_{u:03d}.wav"
                clean = signal("speech", 2.0, 48000, 10 * s + u)
                noise = np.round(0.05 * signal("noise", 2.0, 48000, u) * 32768) / 32768
                write_wav(root / "valentini" / f"clean_{folder}_wav" / name, clean, 48000)
                write_wav(root / "valentini" / f"noisy_{folder}_wav" / name, clean + noise, 48000)
                written[f"{split}/{name[:-4]}"] = (clean, noise)
    return written


def vctk(root: Path) -> dict:
    """VCTK 0.92: FLAC files per speaker and speaker-info.txt."""
    base = root / "VCTK-Corpus-0.92"
    written = {}
    for s, speaker in enumerate(("p225", "p232", "p257")):
        for u in (1, 2):
            for mic in ("mic1", "mic2"):
                x = signal("speech", 1.5, 48000, 3 * s + u)
                written[f"{speaker}/{speaker}_{u:03d}_{mic}"] = write_wav(
                    base / "wav48_silence_trimmed" / speaker / f"{speaker}_{u:03d}_{mic}.flac", x, 48000)
    (base / "speaker-info.txt").write_text("ID  AGE  GENDER  ACCENTS  REGION COMMENTS\n"
                                           "p225  23  F    English    Southern  England\n"
                                           "p232  23  M    English    Southern  England\n"
                                           "p257  24  F    English    Southern  England\n")
    return written


def demand(root: Path) -> dict:
    """DLIVING at 16 kHz (plain folder); STRAFFIC at 48 kHz as its zip unpacks (STRAFFIC_48k/STRAFFIC)."""
    written = {}
    for env, sr, folder in (("DLIVING", 16000, "DLIVING"), ("STRAFFIC", 48000, "STRAFFIC_48k/STRAFFIC")):
        for ch in range(1, 17):
            x = signal("noise", 5.0, sr, ch)
            written[(env, ch)] = write_wav(root / "demand" / folder / f"ch{ch:02d}.wav", x, sr)
    return written


def medleydb(root: Path) -> dict:
    """Two tracks; the piano stem rests (digital silence) for its first half."""
    import yaml

    written = {}
    for name, instruments in (("ArtistA_SongOne", ["piano", "male singer", "violin"]),
                              ("ArtistB_SongTwo", ["electric bass", "piano"])):
        folder = root / "medleydb" / "Audio" / name
        stems = {}
        for k, instrument in enumerate(instruments, start=1):
            kind = "speech" if "singer" in instrument else "piano"
            x = signal(kind, 4.0, 44100, k)
            if instrument == "piano":
                x[: x.size // 2] = 0.0
            write_wav(folder / f"{name}_STEMS" / f"{name}_STEM_{k:02d}.wav", np.stack([x, x]), 44100)
            stems[f"S{k:02d}"] = {"component": "", "filename": f"{name}_STEM_{k:02d}.wav", "instrument": instrument}
            written[f"{name}/S{k:02d}"] = x
        meta = {"artist": name.split("_")[0], "title": name.split("_")[1], "has_bleed": "no",
                "mix_filename": f"{name}_MIX.wav", "stem_dir": f"{name}_STEMS", "stems": stems}
        (folder / f"{name}_METADATA.yaml").write_text(yaml.safe_dump(meta))
    return written


def populate(root: Path, stems: bool | None = None) -> None:
    """Every corpus (VCTK in its Valentini form) under ``root``; a .stem.mp4 track when ffmpeg is there."""
    for build in (ljspeech, sc09, drums, piano, nsynth, musdb, timit, valentini, demand, medleydb):
        build(root)
    if stems if stems is not None else shutil.which("ffmpeg") is not None:
        musdb_stem_file(root)


if __name__ == "__main__":
    populate(Path(sys.argv[1]))
    print(f"wrote fixture corpora under {sys.argv[1]}")
