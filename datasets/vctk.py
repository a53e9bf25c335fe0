"""Clean and noisy read speech: the Valentini-Botinhao noisy/clean set built on VCTK, or VCTK itself."""
from __future__ import annotations

from bench.components.corpus import AudioRef, FileCorpus, Track, child
from bench.components.dataset import dataset

VALENTINI_TEST_SPEAKERS = ("p232", "p257")


@dataset("vctk", version="1")
class VCTK(FileCorpus):
    """Clean (and noisy) read speech: the Valentini-Botinhao set, or VCTK itself.

    The Valentini-Botinhao (2017) noisy-clean speech set: test = clean_testset_wav + noisy_testset_wav
    (speakers p232, p257), train = the 28- (or else 56-) speaker training set. A clip is the clean
    speech by default; ``sources`` may ask for "clean", "noisy" or "noise" (noisy - clean), e.g.
    ["clean", "noise"] gives a (2, T) clip whose sum is the recorded noisy file.

    Also reads VCTK itself (0.92: ``wav48_silence_trimmed/<spk>/<spk>_<n>_mic1.flac``; 0.80:
    ``wav48/<spk>/*.wav``), clean only, with test = the Valentini test speakers and the gender from
    speaker-info.txt. Sources at 48 kHz (the publisher's rate) or 16 kHz (the common resampled copy).
    """

    kind = "speech"
    folder = "valentini"
    folder_aliases = ("DS_10283_2791", "vctk", "VCTK-Corpus-0.92", "VCTK-Corpus")
    standin = "synthetic-speech"
    url = ("https://datashare.ed.ac.uk/handle/10283/2791 (Valentini noisy-clean set); "
           "https://datashare.ed.ac.uk/handle/10283/3443 (VCTK 0.92)")
    layout = """
valentini/clean_testset_wav/p232_001.wav ...   48 kHz mono (824 test files)
valentini/noisy_testset_wav/p232_001.wav ...   the same sentences with noise added
valentini/clean_trainset_28spk_wav/, noisy_trainset_28spk_wav/   (or the *_56spk_* pair) for train
or VCTK 0.92: valentini/wav48_silence_trimmed/p225/p225_001_mic1.flac + speaker-info.txt
   (VCTK 0.80: wav48/p225/p225_001.wav); the folder may also be called vctk/
"""
    splits = ("train", "test")
    default_split = "test"
    sample_rates = (48000, 16000)
    mono = True
    source_names = ("clean", "noisy")
    derived = {"noise": {"noisy": 1.0, "clean": -1.0}}
    default_sources = ("clean",)

    def __init__(self, root=None, *, sources=None, mic: str = "mic1", **prep):
        super().__init__(root, own_params={"sources": sources, "mic": None if mic == "mic1" else mic}, **prep)
        self._choose_sources(sources)
        self.mic = mic

    def variant(self):
        if child(self.root, "clean_testset_wav") or child(self.root, "clean_trainset_28spk_wav") \
                or child(self.root, "clean_trainset_56spk_wav"):
            return "valentini"
        if child(self.root, "wav48_silence_trimmed"):
            return "vctk-0.92"
        return "vctk-0.80" if child(self.root, "wav48") else ""

    def scan(self):
        kind = self.variant()
        if kind == "valentini":
            return self._scan_valentini()
        if kind.startswith("vctk"):
            if self.sources != ("clean",):
                raise ValueError("vctk: VCTK itself has clean speech only; noisy/noise need the Valentini set")
            return self._scan_vctk(kind)
        raise self.malformed("no clean_testset_wav/ (Valentini) nor wav48_silence_trimmed/ or wav48/ (VCTK)")

    def _scan_valentini(self):
        pairs = [("test", "clean_testset_wav", "noisy_testset_wav")]
        for n in ("28spk", "56spk"):
            if child(self.root, f"clean_trainset_{n}_wav"):
                pairs.append(("train", f"clean_trainset_{n}_wav", f"noisy_trainset_{n}_wav"))
                break
        tracks = []
        for split, clean_name, noisy_name in pairs:
            clean_dir, noisy_dir = child(self.root, clean_name), child(self.root, noisy_name)
            for wav in sorted(clean_dir.glob("*.wav")) if clean_dir else ():
                refs = {"clean": AudioRef(wav)}
                if noisy_dir and (noisy_dir / wav.name).is_file():
                    refs["noisy"] = AudioRef(noisy_dir / wav.name)
                tracks.append(Track(f"{split}/{wav.stem}", refs, split, {"speaker": wav.stem.split("_")[0]}))
        return tracks

    def _scan_vctk(self, kind):
        genders = _speaker_genders(self.root / "speaker-info.txt")
        audio_dir = child(self.root, "wav48_silence_trimmed" if kind == "vctk-0.92" else "wav48")
        tracks = []
        for speaker_dir in sorted(p for p in audio_dir.iterdir() if p.is_dir()):
            speaker = speaker_dir.name
            if kind == "vctk-0.92":
                files = sorted(speaker_dir.glob(f"*_{self.mic}.flac"))
            else:
                files = sorted(speaker_dir.glob("*.wav"))
            split = "test" if speaker in VALENTINI_TEST_SPEAKERS else "train"
            meta = {"speaker": speaker, **({"gender": genders[speaker]} if speaker in genders else {})}
            tracks += [Track(f"{speaker}/{f.stem}", {"clean": AudioRef(f)}, split, dict(meta)) for f in files]
        return tracks


def _speaker_genders(path) -> dict[str, str]:
    """speaker-info.txt: ``ID AGE GENDER ACCENTS ...`` (IDs "p225" in 0.92, "225" in 0.80)."""
    if not path.is_file():
        return {}
    genders = {}
    for line in path.read_text(errors="replace").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[2].upper() in ("F", "M"):
            speaker = fields[0] if fields[0].startswith("p") else f"p{fields[0]}"
            genders[speaker] = fields[2].upper()
    return genders
