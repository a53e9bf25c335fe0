"""Audio reading for the corpora: NIST SPHERE, WAV/FLAC integrity, stems, resampling, the clip cache."""

import numpy as np
import pytest
import soundfile as sf
from corpus_fixtures import signal, write_sphere, write_wav
from scipy import signal as sps

from bench.components import clip_cache
from bench.core.audio_io import AudioFileError, audio_info, parse_sphere_header, read_audio, resample, to_mono


def test_sphere_header_fields_are_typed():
    head = (b"NIST_1A\n   1024\nsample_count -i 42\nsample_rate -i 16000\nsample_coding -s3 pcm\n"
            b"gain -r 1.5\nend_head\n").ljust(1024, b" ")
    fields = parse_sphere_header(head)
    assert fields == {"header_bytes": 1024, "sample_count": 42, "sample_rate": 16000, "sample_coding": "pcm",
                      "gain": 1.5}
    with pytest.raises(ValueError, match="end_head"):
        parse_sphere_header(b"NIST_1A\n   1024\nsample_count -i 42\n")


def test_sphere_reader_agrees_with_the_pcm_written_and_with_libsndfile(tmp_path):
    path = tmp_path / "SA1.WAV"
    expected = write_sphere(path, signal("speech", 0.5, 16000, 1), 16000, "fcjf0_sa1")
    data, sr = read_audio(path)
    assert sr == 16000 and data.shape == (1, 8000)
    np.testing.assert_array_equal(data[0], expected)
    other, other_sr = sf.read(path, dtype="float32")  # second implementation: libsndfile's NIST reader
    assert other_sr == sr
    np.testing.assert_array_equal(other, data[0])
    info = audio_info(path)
    assert (info.sr, info.channels, info.frames, info.format) == (16000, 1, 8000, "NIST")


def test_sphere_big_endian_and_two_channels(tmp_path):
    pcm = (np.arange(20, dtype=np.int16) * 100).reshape(10, 2)
    head = ("NIST_1A\n   1024\nchannel_count -i 2\nsample_count -i 10\nsample_rate -i 8000\n"
            "sample_n_bytes -i 2\nsample_byte_format -s2 10\nsample_coding -s3 pcm\nend_head\n")
    path = tmp_path / "be.sph"
    path.write_bytes(head.encode().ljust(1024, b" ") + pcm.astype(">i2").tobytes())
    data, sr = read_audio(path)
    assert sr == 8000 and data.shape == (2, 10)
    np.testing.assert_array_equal(data, pcm.T / 32768)


def test_truncated_sphere_fails_with_path_and_reason(tmp_path):
    path = tmp_path / "SX13.WAV"
    write_sphere(path, signal("speech", 0.5, 16000, 2))
    path.write_bytes(path.read_bytes()[:1024 + 3000])
    with pytest.raises(AudioFileError, match=r"SX13\.WAV: truncated: the SPHERE header declares 8000 samples, "
                                             r"the file holds 1500"):
        read_audio(path)


def test_shorten_compressed_sphere_says_how_to_fix_it(tmp_path):
    path = tmp_path / "SI943.WAV"
    head = ("NIST_1A\n   1024\nsample_count -i 10\nsample_rate -i 16000\n"
            "sample_coding -s26 pcm,embedded-shorten-v2.00\nend_head\n")
    path.write_bytes(head.encode().ljust(1024, b" ") + b"\0" * 40)
    with pytest.raises(AudioFileError, match="sph2pipe"):
        read_audio(path)


def test_truncated_wav_is_caught_though_libsndfile_reads_it_short(tmp_path):
    path = write_wav_file(tmp_path / "clip.wav")
    path.write_bytes(path.read_bytes()[:20000])
    assert sf.read(path)[0].size < 16000  # what a plain read would silently give
    with pytest.raises(AudioFileError, match=r"clip\.wav: truncated: the WAV header declares 32000 bytes"):
        read_audio(path)


def test_truncated_flac_empty_and_missing_files(tmp_path):
    flac = tmp_path / "clip.flac"
    write_wav(flac, signal("speech", 1, 16000, 3), 16000)
    flac.write_bytes(flac.read_bytes()[: flac.stat().st_size // 2])
    with pytest.raises(AudioFileError, match=r"clip\.flac: unreadable audio"):
        read_audio(flac)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioFileError, match=r"empty\.wav: unreadable audio \(.*not recognised"):
        read_audio(empty)
    with pytest.raises(AudioFileError, match=r"gone\.wav: no such file"):
        read_audio(tmp_path / "gone.wav")


def write_wav_file(path):
    write_wav(path, signal("speech", 1, 16000, 4), 16000)
    return path


def test_resampling_keeps_a_tone_and_agrees_with_polyphase_resampling():
    sr_in, sr_out, f = 44100, 16000, 1000.0
    x = np.sin(2 * np.pi * f * np.arange(sr_in) / sr_in).astype(np.float32)
    y = resample(x, sr_in, sr_out)
    assert y.size == sr_out and y.dtype == np.float32
    truth = np.sin(2 * np.pi * f * np.arange(sr_out) / sr_out)
    middle = slice(500, -500)  # away from the edges, where the filter sees the signal start and stop
    snr = 10 * np.log10(np.sum(truth[middle] ** 2) / np.sum((y[middle] - truth[middle]) ** 2))
    assert snr > 80
    other = sps.resample_poly(x, 160, 441)  # a second implementation (its default filter has ~0.1 % ripple)
    assert np.max(np.abs(other[middle] - y[middle])) < 3e-3
    assert resample(x, 16000, 16000) is not None and np.array_equal(resample(x, 16000, 16000), x)


def test_to_mono_averages_channels():
    x = np.stack([np.ones(4), np.zeros(4)]).astype(np.float32)
    np.testing.assert_array_equal(to_mono(x), 0.5 * np.ones(4))
    np.testing.assert_array_equal(to_mono(x[:1]), x[0])


@pytest.mark.ffmpeg
def test_stem_mp4_streams_are_read_with_stempeg(tmp_path):
    from corpus_fixtures import musdb_stem_file

    written = musdb_stem_file(tmp_path)
    path = next((tmp_path / "musdb18" / "test").glob("*.stem.mp4"))
    info = audio_info(path, stream=4)
    assert (info.sr, info.channels, info.format) == (44100, 2, "STEM-MP4")
    vocals, sr = read_audio(path, stream=4)
    assert sr == 44100 and vocals.shape[0] == 2
    n = min(vocals.shape[1], written["vocals"].size)
    # AAC is lossy and may shift by its priming delay: compare at the best lag
    lags = np.arange(-3000, 3001)
    ref = written["vocals"][3000:n - 3000]
    corr = [np.dot(vocals[0, 3000 + lag:n - 3000 + lag], ref) for lag in lags[::1]]
    best = lags[int(np.argmax(corr))]
    est = vocals[0, 3000 + best:n - 3000 + best]
    snr = 10 * np.log10(np.sum(ref**2) / np.sum((est - ref) ** 2))
    assert snr > 15
    with pytest.raises(AudioFileError, match="has 5 audio streams, stream 7"):
        read_audio(path, stream=7)


def test_clip_cache_computes_once_and_keys_on_every_part(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    calls = []

    def compute():
        calls.append(1)
        return np.arange(5, dtype=np.float32), {"source_sr": 22050}

    parts = {"corpus": "c", "revision": "1", "file": "a.wav", "size": 10, "mtime_ns": 1, "sr": 16000}
    first = clip_cache.cached_signal("c", parts, compute)
    second = clip_cache.cached_signal("c", parts, compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(first[0], second[0])
    assert second[1] == {"source_sr": 22050}
    clip_cache.cached_signal("c", {**parts, "sr": 8000}, compute)
    clip_cache.cached_signal("c", {**parts, "mtime_ns": 2}, compute)
    assert len(calls) == 3
    entries = list((tmp_path / "cache" / "audio" / "c").glob("*.npz"))
    assert len(entries) == 3
    entries[0].write_bytes(b"damaged")  # a damaged entry is recomputed, not trusted
    for p in ({**parts}, {**parts, "sr": 8000}, {**parts, "mtime_ns": 2}):
        np.testing.assert_array_equal(clip_cache.cached_signal("c", p, compute)[0], np.arange(5))
    assert len(calls) == 4
    monkeypatch.setenv("BENCH_CACHE", "off")
    clip_cache.cached_signal("c", parts, compute)
    assert len(calls) == 5
