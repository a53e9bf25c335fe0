"""The shared STFT (bench.core.stft): shapes, exact round trip, the frame mask, agreement with scipy."""
import numpy as np
import pytest
import torch
from scipy import signal as sps

from bench.core.stft import SpectralFrame

FRAME = SpectralFrame()


@pytest.mark.parametrize("length", [16000, 32000, 4000, 1234])
def test_shape_is_512_bins_and_frames_padded_to_a_multiple_of_4(length):
    spec = FRAME.analyse(torch.randn(length))
    assert spec.shape == (2, 512, FRAME.frames(length)) == FRAME.shape(length)
    assert spec.shape[-1] % 4 == 0 and spec.shape[-1] >= 1 + length / 64


def test_one_second_at_16k_has_252_frames():
    assert FRAME.frames(16000) == 252  # 251 centred frames, padded to 252


def test_round_trip_is_exact():
    x = torch.randn(3, 16000, dtype=torch.float64)
    y = FRAME.synthesise(FRAME.analyse(x), 16000)
    assert y.shape == x.shape
    assert torch.max(torch.abs(y - x)) < 1e-10


def test_analysis_matches_scipy_stft():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(8000)
    ours = FRAME.analyse(torch.from_numpy(x)).numpy()
    padded = np.pad(x, (0, FRAME.padded_length(x.size) - x.size))
    # scipy scales by 1/sum(window); undo it. Zero padding of n_fft/2 at both ends = torch's centred frames.
    window = sps.get_window("hann", 1022)
    _, _, ref = sps.stft(padded, window=window, nperseg=1022, noverlap=1022 - 64, boundary="zeros",
                         padded=False, return_onesided=True)
    ref = ref * window.sum()
    n = min(ref.shape[1], ours.shape[2])
    assert np.allclose(ours[0, :, :n], ref.real[:, :n], atol=1e-8)
    assert np.allclose(ours[1, :, :n], ref.imag[:, :n], atol=1e-8)


def test_frame_mask_marks_exactly_the_frames_that_touch_a_gap():
    mask = np.ones(16000, dtype=np.float32)
    mask[5000:6600] = 0
    frames = FRAME.frame_mask(mask)
    assert frames.shape == (252,)
    for f in range(frames.size):
        start, stop = FRAME.frame_support(f)
        touches = start < 6600 and stop > 5000
        assert frames[f] == (0.0 if touches else 1.0)
    # On the known frames the observation's STFT equals the clean STFT exactly.
    x = torch.from_numpy(np.random.default_rng(1).standard_normal(16000))
    clean, observed = FRAME.analyse(x), FRAME.analyse(x * torch.from_numpy(mask).double())
    known = torch.from_numpy(frames).bool()
    assert torch.allclose(clean[..., known], observed[..., known], atol=1e-9)
    assert not torch.allclose(clean[..., ~known], observed[..., ~known])
