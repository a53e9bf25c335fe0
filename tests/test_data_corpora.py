"""Corpus loaders on fixture trees in each publisher's layout, through the public API (build_dataset,
check, item_ids/select, load), including malformed variants and their error messages."""

import corpus_fixtures as fx
import numpy as np
import pytest
from bench.datasets.musdb18 import validation_tracks

from bench.components import corpus as corpus_module
from bench.components.dataset import CorpusMissing, build_dataset
from bench.core.audio_io import AudioFileError
from bench.core.registry import DATASETS

REAL = ["ljspeech", "sc09", "wavegan-drums", "wavegan-piano", "musdb18", "timit", "vctk", "demand", "medleydb"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))


def load(name, params, root, item, sr=16000, seconds=1.0):
    return build_dataset(name, params, root).load(item, sr=sr, seconds=seconds, rng=np.random.default_rng(0))


# -- missing and empty corpora ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", REAL)
def test_a_missing_corpus_says_where_it_looked_what_it_expected_and_where_to_get_it(name, tmp_path):
    ds = build_dataset(name, {}, tmp_path)
    with pytest.raises(CorpusMissing) as err:
        ds.check()
    text = str(err.value)
    assert f"{name}: corpus not found: no folder {tmp_path / ds.folder}" in text
    assert "expected layout" in text and ds.layout.strip().splitlines()[0].strip() in text
    assert f"download: {ds.url}" in text
    with pytest.raises(CorpusMissing):
        ds.select(3, seed=0)


@pytest.mark.parametrize("name", REAL)
def test_an_empty_corpus_folder_is_malformed_not_an_empty_set(name, tmp_path):
    folder = tmp_path / DATASETS.get(name).obj.folder
    folder.mkdir()
    with pytest.raises(CorpusMissing, match=f"(?s){name}: {folder} is not a usable corpus: .*expected layout"):
        build_dataset(name, {}, tmp_path).item_ids("all")


def test_every_real_corpus_names_a_registered_standin():
    for name in REAL:
        cls = DATASETS.get(name).obj
        assert cls.standin in DATASETS and DATASETS.get(cls.standin).obj.synthetic, name
        assert cls.url and cls.layout.strip() and cls.folder


# -- LJSpeech -------------------------------------------------------------------------------------------------
def test_ljspeech_reads_exact_excerpts_and_resamples(tmp_path):
    written = fx.ljspeech(tmp_path)
    ds = build_dataset("ljspeech", {}, tmp_path)
    ds.check()
    assert sorted(ds.item_ids("all")) == sorted(written)
    assert sorted(ds.item_ids("train") + ds.item_ids("test")) == sorted(written)
    assert ds.default_split == "test" and ds.item_ids("test")
    clip = ds.load("LJ001-0004", sr=22050, seconds=1.0)  # the file's own rate: no resampling
    x = written["LJ001-0004"]
    assert clip.sr == 22050 and clip.samples.shape == (22050,) and clip.samples.dtype == np.float32
    np.testing.assert_allclose(clip.samples, x[clip.offset:clip.offset + 22050], atol=1e-7)
    assert clip.offset % 22050 == 0 and clip.meta["gender"] == "F" and clip.meta["files"] == ["wavs/LJ001-0004.wav"]
    at16 = ds.load("LJ001-0004", sr=16000, seconds=2.0)
    assert at16.samples.shape == (32000,) and at16.sr == 16000
    again = ds.load("LJ001-0004", sr=16000, seconds=2.0)
    np.testing.assert_array_equal(at16.samples, again.samples)
    spectrum = np.abs(np.fft.rfft(at16.samples))
    assert spectrum[-200:].max() < 1e-3 * spectrum.max()  # band-limited by the resampler, no aliasing at 8 kHz
    with pytest.raises(ValueError, match="ljspeech has no split 'valid'; its splits are train, test, all"):
        ds.item_ids("valid")
    with pytest.raises(ValueError, match="no item 'LJ999-0001'"):
        ds.load("LJ999-0001", sr=16000, seconds=1.0)


def test_each_file_is_decoded_and_resampled_once_per_rate(tmp_path, monkeypatch):
    fx.ljspeech(tmp_path)
    calls = []
    real = corpus_module.read_audio
    monkeypatch.setattr(corpus_module, "read_audio", lambda *a, **k: calls.append(a) or real(*a, **k))
    for _ in range(3):
        load("ljspeech", {}, tmp_path, "LJ001-0002")
    load("ljspeech", {"loudness_dbfs": -30}, tmp_path, "LJ001-0002")  # same file and rate: cached
    assert len(calls) == 1
    load("ljspeech", {}, tmp_path, "LJ001-0002", sr=8000)
    assert len(calls) == 2
    assert len(list((tmp_path / "cache" / "audio" / "ljspeech").glob("*.npz"))) == 2


@pytest.mark.parametrize("damage, message", [
    ("truncate", r"LJ001-0003\.wav: truncated: the WAV header declares"),
    ("rate", r"LJ001-0003\.wav: sample rate 16000 Hz, but ljspeech is distributed at 22050 Hz"),
    ("stereo", r"LJ001-0003\.wav: 2 channels, but ljspeech is mono"),
    ("garbage", r"LJ001-0003\.wav: unreadable audio"),
])
def test_a_bad_file_fails_its_item_with_path_and_reason_and_the_rest_load(damage, message, tmp_path):
    fx.ljspeech(tmp_path)
    path = tmp_path / "LJSpeech-1.1" / "wavs" / "LJ001-0003.wav"
    x = fx.signal("speech", 2.0, 22050, 1)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:30000])
    elif damage == "rate":
        fx.write_wav(path, x, 16000)
    elif damage == "stereo":
        fx.write_wav(path, np.stack([x, x]), 22050)
    else:
        path.write_bytes(b"RIFF not really a wave file")
    ds = build_dataset("ljspeech", {}, tmp_path)
    with pytest.raises(AudioFileError, match=message):
        ds.load("LJ001-0003", sr=16000, seconds=1.0)
    assert ds.load("LJ001-0002", sr=16000, seconds=1.0).samples.shape == (16000,)


def test_ljspeech_malformed_layouts(tmp_path):
    base = tmp_path / "LJSpeech-1.1"
    (base / "wavs").mkdir(parents=True)
    with pytest.raises(CorpusMissing, match="is not a usable corpus: no metadata.csv"):
        build_dataset("ljspeech", {}, tmp_path).check()
    (base / "metadata.csv").write_text("LJ001-0001|a|a\nLJ001-0002|b|b\n")
    with pytest.raises(CorpusMissing, match="metadata.csv lists 2 clips but none of them is in wavs/"):
        build_dataset("ljspeech", {}, tmp_path).check()


# -- protocol options: silence, loudness, excerpts ----------------------------------------------------------------
def test_excerpts_of_a_file_never_overlap_and_run_out_with_a_clear_error(tmp_path):
    fx.piano(tmp_path)
    ds = build_dataset("wavegan-piano", {"clips_per_file": 6}, tmp_path)
    items = ds.item_ids("test")
    assert items == [f"test/bach_test#{k}" for k in range(6)]
    starts = sorted(ds.load(i, sr=16000, seconds=1.0).meta["start_s"] for i in items)
    assert starts == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    too_many = build_dataset("wavegan-piano", {"clips_per_file": 7}, tmp_path)
    with pytest.raises(AudioFileError, match=r"bach_test\.wav: excerpt 6 asked for, but only 6 non-overlapping"):
        too_many.load("test/bach_test#6", sr=16000, seconds=1.0)


def test_silence_rules_and_loudness_normalisation(tmp_path):
    written = fx.medleydb(tmp_path)  # the piano stem S01 of ArtistA is digitally silent for its first 2 s
    stem = "ArtistA_SongOne/S01"
    default = build_dataset("medleydb", {"clips_per_file": 2}, tmp_path)  # max_zero_fraction 0.2 by default
    assert sorted(default.load(f"{stem}#{k}", sr=16000, seconds=1.0).meta["start_s"] for k in (0, 1)) == [2.0, 3.0]
    with pytest.raises(AudioFileError, match=r"STEM_01\.wav: excerpt 2 asked for, but only 2"):
        default.load(f"{stem}#2", sr=16000, seconds=1.0)
    everything = build_dataset("medleydb", {"clips_per_file": 4, "max_zero_fraction": 1.0}, tmp_path)
    assert sorted(everything.load(f"{stem}#{k}", sr=16000, seconds=1.0).meta["start_s"] for k in range(4)) == \
        [0.0, 1.0, 2.0, 3.0]
    by_rms = build_dataset("medleydb", {"clips_per_file": 2, "max_zero_fraction": 1.0, "min_rms_db": -60},
                           tmp_path)
    assert sorted(by_rms.load(f"{stem}#{k}", sr=16000, seconds=1.0).meta["start_s"] for k in (0, 1)) == [2.0, 3.0]
    strict = build_dataset("medleydb", {"min_rms_db": 0.0}, tmp_path)
    with pytest.raises(AudioFileError, match=r"no 1 s window passes the silence rule \(min_rms_db=0.0"):
        strict.load(f"{stem}#0", sr=16000, seconds=1.0)
    loud = build_dataset("medleydb", {"loudness_dbfs": -25.0}, tmp_path).load(f"{stem}#0", sr=16000, seconds=1.0)
    rms_db = 20 * np.log10(np.sqrt(np.mean(loud.samples.astype(np.float64) ** 2)))
    assert rms_db == pytest.approx(-25.0, abs=0.01)
    assert "gain_db" in loud.meta and written[stem].size == 4 * 44100
    with pytest.raises(ValueError, match="max_zero_fraction must lie in"):
        build_dataset("medleydb", {"max_zero_fraction": 2}, tmp_path)
    with pytest.raises(ValueError, match="bad parameters"):
        build_dataset("medleydb", {"no_such_option": 1}, tmp_path)


# -- SC09 ------------------------------------------------------------------------------------------------------
def test_sc09_speech_commands_layout_splits_digits_and_padding(tmp_path):
    written = fx.sc09(tmp_path)
    ds = build_dataset("sc09", {}, tmp_path)
    assert ds.revision.endswith("+speech-commands")
    assert sorted(ds.item_ids("test")) == ["one/0a1b2c3d_nohash_0", "zero/0a1b2c3d_nohash_0"]
    assert ds.item_ids("valid") == ["two/0a1b2c3d_nohash_0"]
    assert len(ds.item_ids("all")) == 6  # the "yes" folder is not a digit
    clip = ds.load("zero/0a1b2c3d_nohash_0", sr=16000, seconds=1.0)
    x = written["zero/0a1b2c3d_nohash_0.wav"]  # 0.8 s: zero-padded to the 1 s clip
    assert clip.meta["digit"] == "zero" and clip.meta["padded"] == 3200 and clip.meta["speaker"] == "0a1b2c3d"
    np.testing.assert_allclose(clip.samples[:12800], x, atol=1e-7)
    assert not clip.samples[12800:].any()


def test_sc09_without_split_lists_keeps_a_speaker_in_one_split(tmp_path):
    fx.sc09(tmp_path)
    (tmp_path / "sc09" / "testing_list.txt").unlink()
    (tmp_path / "sc09" / "validation_list.txt").unlink()
    ds = build_dataset("sc09", {}, tmp_path)
    by_speaker = {}
    for split in ("train", "valid", "test"):
        for item in ds.item_ids(split):
            by_speaker.setdefault(item.split("/")[1].split("_nohash_")[0], set()).add(split)
    assert all(len(splits) == 1 for splits in by_speaker.values()) and len(by_speaker) == 2


def test_sc09_wavegan_layout(tmp_path):
    fx.sc09_wavegan(tmp_path)
    ds = build_dataset("sc09", {}, tmp_path)
    assert ds.revision.endswith("+wavegan")
    assert sorted(ds.item_ids("test")) == ["test/Nine_0a1b2c3d_nohash_1", "test/Zero_0a1b2c3d_nohash_0"]
    assert ds.load("test/Nine_0a1b2c3d_nohash_1", sr=16000, seconds=1.0).meta["digit"] == "nine"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "sc09").mkdir()
    with pytest.raises(CorpusMissing, match="neither digit word folders"):
        build_dataset("sc09", {}, tmp_path / "other").check()


# -- WaveGAN drums / piano, NSynth -------------------------------------------------------------------------------
def test_wavegan_drums_and_piano(tmp_path):
    fx.drums(tmp_path)
    written = fx.piano(tmp_path)
    drums = build_dataset("wavegan-drums", {}, tmp_path)
    assert len(drums.item_ids("train")) == 3 and drums.item_ids("valid") == ["valid/hit_0"]
    assert drums.load("test/hit_1", sr=16000, seconds=1.0).meta["padded"] == 4800
    piano = build_dataset("wavegan-piano", {}, tmp_path)  # found as mancini_piano/piano/
    assert piano.root.name == "mancini_piano" and len(piano.item_ids("test")) == 16
    clip = build_dataset("wavegan-piano", {"clips_per_file": 2}, tmp_path).load("train/bach_train#1", sr=48000,
                                                                                seconds=1.0)
    stereo = written["train"]  # two channels (x and x / 2): mixed down by averaging
    np.testing.assert_allclose(clip.samples, stereo.mean(axis=0)[clip.offset:clip.offset + 48000], atol=1e-6)


def test_nsynth_layout_with_an_instrument_family(tmp_path):
    fx.nsynth(tmp_path)
    keys = build_dataset("wavegan-piano", {"layout": "nsynth"}, tmp_path)
    assert keys.item_ids("test") == ["nsynth-test/keyboard_acoustic_000-060-100",
                                     "nsynth-test/keyboard_electronic_001-060-100"]
    acoustic = build_dataset("wavegan-piano", {"layout": "nsynth", "instrument_source": "acoustic"}, tmp_path)
    assert len(acoustic.item_ids("all")) == 1 and acoustic.revision.endswith("+nsynth-keyboard-acoustic")
    mallets = build_dataset("wavegan-drums", {"layout": "nsynth", "family": "mallet"}, tmp_path)
    clip = mallets.load(mallets.item_ids("test")[0], sr=16000, seconds=1.0)
    assert clip.meta["family"] == "mallet" and clip.meta["pitch"] == 60
    with pytest.raises(ValueError, match="there is no drum family"):
        build_dataset("wavegan-drums", {"layout": "nsynth"}, tmp_path)
    with pytest.raises(ValueError, match="need layout='nsynth'"):
        build_dataset("wavegan-drums", {"family": "mallet"}, tmp_path)
    (tmp_path / "nsynth" / "nsynth-test" / "examples.json").write_text("{not json")
    with pytest.raises(CorpusMissing, match="examples.json is not valid JSON"):
        build_dataset("wavegan-piano", {"layout": "nsynth", "family": "guitar"}, tmp_path).check()


# -- MUSDB18 -----------------------------------------------------------------------------------------------------
def test_musdb_wav_folders_give_vocals_and_accompaniment(tmp_path):
    written = fx.musdb(tmp_path)
    ds = build_dataset("musdb18", {"clips_per_file": 2}, tmp_path)
    assert ds.revision.endswith("+wav")
    assert sorted(ds.item_ids("test")) == sorted(f"test/{n}#{k}" for n in fx.MUSDB_TRACKS["test"] for k in (0, 1))
    if validation_tracks():  # the musdb package's validation list holds "Actions - One Minute Smile"
        assert ds.item_ids("valid") == [f"train/Actions - One Minute Smile#{k}" for k in (0, 1)]
    item = "test/Al James - Schoolboy Facination#1"
    clip = ds.load(item, sr=44100, seconds=1.0)
    stems = written["test/Al James - Schoolboy Facination"]
    assert clip.samples.shape == (2, 44100) and clip.meta["sources"] == ["vocals", "accompaniment"]
    window = slice(clip.offset, clip.offset + 44100)
    np.testing.assert_allclose(clip.samples[0], stems["vocals"][window], atol=1e-6)
    np.testing.assert_allclose(clip.samples[1], (stems["drums"] + stems["bass"] + stems["other"])[window], atol=1e-6)
    mixture = build_dataset("musdb18", {"clips_per_file": 2, "sources": ["mixture"]}, tmp_path).load(
        item, sr=16000, seconds=1.0)
    assert mixture.samples.shape == (16000,) and "sources" not in mixture.meta
    at16 = ds.load(item, sr=16000, seconds=1.0)
    np.testing.assert_allclose(at16.samples.sum(axis=0), mixture.samples, atol=1e-4)  # stems add up to the mix
    with pytest.raises(ValueError, match="unknown sources \\['voice'\\]; choose from mixture, drums"):
        build_dataset("musdb18", {"sources": ["voice"]}, tmp_path)
    (tmp_path / "musdb18" / "test" / "AM Contra - Heart Peripheral" / "vocals.wav").unlink()
    with pytest.raises(AudioFileError, match=r"Heart Peripheral/vocals\.wav: no such file"):  # listed before
        ds.load("test/AM Contra - Heart Peripheral#0", sr=16000, seconds=1.0)
    corpus_module._SCANS.clear()  # as a new process would list it
    with pytest.raises(AudioFileError, match=r"AM Contra - Heart Peripheral: no 'vocals' source .* \(it has "):
        ds.load("test/AM Contra - Heart Peripheral#0", sr=16000, seconds=1.0)


def test_musdb_prefers_an_accompaniment_file(tmp_path):
    written = fx.musdb(tmp_path, accompaniment_file=True)
    path = tmp_path / "musdb18" / "train" / "A Classic Education - NightOwl" / "accompaniment.wav"
    fx.write_wav(path, np.zeros((2, 4 * 44100)), 44100)
    clip = load("musdb18", {"clips_per_file": 1}, tmp_path, "train/A Classic Education - NightOwl", sr=44100)
    assert not clip.samples[1].any() and clip.samples[0].any() and written


@pytest.mark.ffmpeg
def test_musdb_stem_files(tmp_path):
    written = fx.musdb_stem_file(tmp_path)
    ds = build_dataset("musdb18", {"clips_per_file": 3}, tmp_path)
    assert ds.revision.endswith("+stems") and len(ds.item_ids("test")) == 3
    clip = ds.load("test/Stem Track - Encoded#0", sr=16000, seconds=1.0)
    assert clip.samples.shape == (2, 16000) and clip.meta["files"] == ["test/Stem Track - Encoded.stem.mp4"]
    # AAC: compare energies rather than samples
    for row, ref in zip(clip.samples, (written["vocals"], written["drums"] + written["bass"] + written["other"])):
        assert np.sqrt(np.mean(row**2)) == pytest.approx(np.sqrt(np.mean(ref**2)), rel=0.35)


# -- TIMIT -------------------------------------------------------------------------------------------------------
def test_timit_sphere_files_gender_and_dialect_regions(tmp_path):
    written = fx.timit(tmp_path)
    female = build_dataset("timit", {"gender": "F", "dialect_regions": ["DR1", "DR2", "DR3"]}, tmp_path)
    assert {i.split("/")[2] for i in female.item_ids("all")} == {"FCJF0", "FAEM0", "FALK0"}
    assert len(female.item_ids("train")) == 6 and len(female.item_ids("test")) == 3
    male = build_dataset("timit", {"gender": "male", "dialect_regions": "dr1"}, tmp_path)
    assert male.item_ids("all") == ["TRAIN/DR1/MDAB0/SA1", "TRAIN/DR1/MDAB0/SI943", "TRAIN/DR1/MDAB0/SX13"]
    clip = male.load("TRAIN/DR1/MDAB0/SX13", sr=16000, seconds=1.0)
    x = written["TRAIN/DR1/MDAB0/SX13"]
    np.testing.assert_array_equal(clip.samples, x[clip.offset:clip.offset + 16000])
    assert clip.meta == {**clip.meta, "speaker": "MDAB0", "gender": "M", "dialect_region": "DR1", "sentence": "SX13"}
    # A stand-in voice of the gender, and a speaker set per choice of regions (disjoint regions, disjoint clips).
    assert male.standin_params == {"voice": "male", "tract": "all-pole", "speakers": "DR1"}
    assert female.standin_params == {"voice": "female", "tract": "all-pole", "speakers": "DR1+DR2+DR3"}
    assert build_dataset("timit", {"gender": "F"}, tmp_path).standin_params == {"voice": "female", "tract": "all-pole"}
    no_sa = build_dataset("timit", {"gender": "F", "include_sa": False}, tmp_path)
    assert not any(i.endswith("/SA1") for i in no_sa.item_ids("all"))
    with pytest.raises(CorpusMissing, match="no utterances of gender F in DR4"):
        build_dataset("timit", {"gender": "F", "dialect_regions": ["DR4"]}, tmp_path).check()
    with pytest.raises(ValueError, match="gender must be 'F' or 'M'"):
        build_dataset("timit", {"gender": "X"}, tmp_path)
    with pytest.raises(ValueError, match="unknown dialect regions \\['DR9'\\]"):
        build_dataset("timit", {"dialect_regions": ["DR9"]}, tmp_path)


def test_timit_lower_case_layout_and_a_truncated_sphere_file(tmp_path):
    path = tmp_path / "timit" / "test" / "dr3" / "falk0" / "sa1.wav"
    fx.write_sphere(path, fx.signal("speech", 1.5, 16000, 0))
    fx.write_sphere(path.with_name("sx13.wav"), fx.signal("speech", 1.5, 16000, 1))
    ds = build_dataset("timit", {}, tmp_path)
    assert ds.item_ids("test") == ["TEST/DR3/FALK0/SA1", "TEST/DR3/FALK0/SX13"]
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(AudioFileError, match=r"sa1\.wav: truncated: the SPHERE header declares 24000 samples"):
        ds.load("TEST/DR3/FALK0/SA1", sr=16000, seconds=1.0)
    assert ds.load("TEST/DR3/FALK0/SX13", sr=16000, seconds=1.0).samples.shape == (16000,)
    (tmp_path / "t2" / "timit" / "DOCS").mkdir(parents=True)
    with pytest.raises(CorpusMissing, match="no TRAIN/ or TEST/ folder"):
        build_dataset("timit", {}, tmp_path / "t2").check()


# -- Valentini / VCTK --------------------------------------------------------------------------------------------
def test_valentini_clean_noisy_and_noise_sources(tmp_path):
    written = fx.valentini(tmp_path)
    ds = build_dataset("vctk", {}, tmp_path)
    assert ds.revision.endswith("+valentini")
    assert ds.item_ids("test") == ["test/p232_001", "test/p232_002", "test/p257_001", "test/p257_002"]
    assert ds.item_ids("train") == ["train/p226_001", "train/p226_002"]
    clean, noise = written["test/p257_002"]
    clip = ds.load("test/p257_002", sr=48000, seconds=1.0)
    np.testing.assert_allclose(clip.samples, clean[clip.offset:clip.offset + 48000], atol=1e-7)
    pair = build_dataset("vctk", {"sources": ["clean", "noise"]}, tmp_path).load("test/p257_002", sr=48000,
                                                                                   seconds=1.0)
    assert pair.meta["sources"] == ["clean", "noise"] and pair.offset == clip.offset
    np.testing.assert_allclose(pair.samples[1], noise[pair.offset:pair.offset + 48000], atol=1e-4)
    noisy = build_dataset("vctk", {"sources": "noisy"}, tmp_path).load("test/p257_002", sr=48000, seconds=1.0)
    np.testing.assert_allclose(pair.samples.sum(axis=0), noisy.samples, atol=1e-6)


def test_vctk_flac_corpus_with_speaker_genders(tmp_path):
    written = fx.vctk(tmp_path)
    ds = build_dataset("vctk", {}, tmp_path)  # found as VCTK-Corpus-0.92/
    assert ds.revision.endswith("+vctk-0.92")
    assert ds.item_ids("test") == ["p232/p232_001_mic1", "p232/p232_002_mic1", "p257/p257_001_mic1",
                                   "p257/p257_002_mic1"]
    clip = ds.load("p257/p257_001_mic1", sr=48000, seconds=1.0)
    assert clip.meta["gender"] == "F" and clip.meta["speaker"] == "p257"
    np.testing.assert_allclose(clip.samples, written["p257/p257_001_mic1"][clip.offset:clip.offset + 48000],
                               atol=1e-7)
    assert len(build_dataset("vctk", {"mic": "mic2"}, tmp_path).item_ids("all")) == 6
    with pytest.raises(ValueError, match="VCTK itself has clean speech only"):
        build_dataset("vctk", {"sources": ["noisy"]}, tmp_path).check()


# -- DEMAND ------------------------------------------------------------------------------------------------------
def test_demand_environments_channels_and_time_split(tmp_path):
    fx.demand(tmp_path)
    living = build_dataset("demand", {"environment": "DLIVING", "clips_per_file": 1}, tmp_path)
    assert len(living.item_ids("test")) == 16 and living.item_ids("test")[0] == "test/DLIVING/ch01"
    test_clip = living.load("test/DLIVING/ch05", sr=16000, seconds=1.0)
    train_clip = living.load("train/DLIVING/ch05", sr=16000, seconds=1.0)
    assert test_clip.meta["start_s"] >= 4.0 and train_clip.meta["start_s"] + 1.0 <= 4.0  # last 20 % vs first 80 %
    assert test_clip.meta["channel"] == 5 and test_clip.meta["environment"] == "DLIVING"
    traffic = build_dataset("demand", {"environment": "straffic", "channels": [1, 2], "clips_per_file": 1},
                            tmp_path)  # found in STRAFFIC_48k/STRAFFIC at 48 kHz
    assert traffic.item_ids("test") == ["test/STRAFFIC/ch01", "test/STRAFFIC/ch02"]
    assert traffic.load("test/STRAFFIC/ch02", sr=16000, seconds=1.0).samples.shape == (16000,)
    assert traffic.standin_params == {"scene": "traffic"} and living.standin_params == {"scene": "living"}
    assert len(build_dataset("demand", {"clips_per_file": 1}, tmp_path).item_ids("test")) == 32
    with pytest.raises(CorpusMissing, match="no environment folder \\(DKITCHEN\\)"):
        build_dataset("demand", {"environment": "DKITCHEN"}, tmp_path).check()
    with pytest.raises(ValueError, match="unknown environments \\['KITCHEN'\\]"):
        build_dataset("demand", {"environment": "KITCHEN"}, tmp_path)


# -- MedleyDB ----------------------------------------------------------------------------------------------------
def test_medleydb_instrument_stems(tmp_path):
    written = fx.medleydb(tmp_path)
    ds = build_dataset("medleydb", {"clips_per_file": 1}, tmp_path)
    assert sorted(ds.item_ids("all")) == ["ArtistA_SongOne/S01", "ArtistA_SongOne/S03", "ArtistB_SongTwo/S01",
                                          "ArtistB_SongTwo/S02"]  # the male singer is not an instrument
    violins = build_dataset("medleydb", {"instruments": "violin", "clips_per_file": 1}, tmp_path)
    assert violins.item_ids("all") == ["ArtistA_SongOne/S03"]
    clip = violins.load("ArtistA_SongOne/S03", sr=44100, seconds=1.0)
    assert clip.meta["instrument"] == "violin"
    np.testing.assert_allclose(clip.samples, written["ArtistA_SongOne/S03"][clip.offset:clip.offset + 44100],
                               atol=1e-6)
    (tmp_path / "medleydb" / "Audio" / "ArtistB_SongTwo" / "ArtistB_SongTwo_METADATA.yaml").unlink()
    with pytest.raises(CorpusMissing, match="track ArtistB_SongTwo has no ArtistB_SongTwo_METADATA.yaml"):
        build_dataset("medleydb", {"instruments": ["piano"]}, tmp_path).check()


# -- from the survivors of mutation testing (benchmarks/mutation.md, 2026-12-07 second session) -------------
def test_musdb_segments_come_from_the_asked_split_and_its_rules_are_recorded(tmp_path):
    fx.musdb(tmp_path)
    ds = build_dataset("musdb18", {"segment_s": 1.0, "min_vocal_norm": 0.1}, tmp_path)
    train, test = ds.item_ids("train"), ds.item_ids("test")
    assert train and test and all(i.startswith("train/") for i in train) and all(i.startswith("test/") for i in test)
    assert ds.params == {"segment_s": 1.0, "min_vocal_norm": 0.1}  # in the cell key: another rule, another cell
    assert build_dataset("musdb18", {"sources": ["mixture"]}, tmp_path).params == {"sources": ["mixture"]}


def test_timit_records_its_speaker_choice_and_reads_spelled_out_genders(tmp_path):
    fx.timit(tmp_path)
    ds = build_dataset("timit", {"gender": "female", "dialect_regions": ["DR1"], "include_sa": False}, tmp_path)
    assert ds.params == {"gender": "F", "dialect_regions": ["DR1"], "include_sa": False}
    assert ds.item_ids("all") == ["TRAIN/DR1/FCJF0/SI943", "TRAIN/DR1/FCJF0/SX13"]
    assert build_dataset("timit", {}, tmp_path).params == {}  # the defaults: every speaker, SA sentences kept
