"""Classical, training-free baselines: the corrupted input itself, spectral Wiener denoising, AR gap filling."""
from __future__ import annotations

import numpy as np
from scipy import signal as sps

from bench.components.method import Method, method
from bench.core.audio import Estimate


@method("identity", version="1")
class Identity(Method):
    """The corrupted input returned unchanged: the "no restoration" row every table carries."""

    tasks = ("denoising", "inpainting", "dereverberation", "separation")

    def restore(self, observation, context):
        x = observation.signal
        sources = int(observation.known.get("num_sources", 0) or 0)
        return np.repeat(x[None, :], sources, axis=0) if sources > 1 else x.copy()


@method("spectral-wiener", version="1")
class SpectralWiener(Method):
    """Wiener filter in the STFT domain with the noise PSD estimated from the quietest frames.

    The noise power per frequency is the ``noise_quantile`` quantile of the frame powers, corrected for the
    bias of a quantile of exponentially distributed powers (no clean signal or noise level is used); the a-priori SNR follows the decision-directed rule of Ephraim and Malah with
    smoothing ``alpha``; the gain is floored at ``gain_floor``. The noise estimate is median-filtered over
    ``smooth_bins`` frequency bins.
    """

    tasks = ("denoising",)

    def __init__(self, n_fft: int = 512, hop: int = 128, noise_quantile: float = 0.1, alpha: float = 0.98,
                 gain_floor: float = 0.05, smooth_bins: int = 31):
        super().__init__(n_fft=n_fft, hop=hop, noise_quantile=noise_quantile, alpha=alpha, gain_floor=gain_floor,
                         smooth_bins=smooth_bins)
        self.smooth_bins = int(smooth_bins) | 1  # medfilt needs an odd width
        self.n_fft, self.hop = int(n_fft), int(hop)
        self.noise_quantile, self.alpha, self.gain_floor = noise_quantile, alpha, gain_floor

    def restore(self, observation, context):
        x = observation.signal.astype(np.float64)
        _, _, spec = sps.stft(x, nperseg=self.n_fft, noverlap=self.n_fft - self.hop, boundary="even")
        power = np.abs(spec) ** 2
        # Noise-only bin powers are exponentially distributed: their q-quantile is -ln(1 - q) times the mean.
        noise = np.quantile(power, self.noise_quantile, axis=1) / -np.log1p(-self.noise_quantile)
        # A median across neighbouring bins keeps a coloured noise floor but not the sustained partials of
        # tonal music, which a per-bin quantile would take for noise.
        noise = sps.medfilt(noise, self.smooth_bins)[:, None] + 1e-12
        posterior = power / noise
        gain = np.empty_like(power)
        previous = np.ones(power.shape[0])
        for t in range(power.shape[1]):
            prior = self.alpha * previous + (1 - self.alpha) * np.maximum(posterior[:, t] - 1, 0)
            gain[:, t] = np.maximum(prior / (1 + prior), self.gain_floor)
            previous = gain[:, t] ** 2 * posterior[:, t]
        _, y = sps.istft(spec * gain, nperseg=self.n_fft, noverlap=self.n_fft - self.hop, boundary=True)
        return Estimate(_fit_length(y, x.size), info={"noise_psd_mean": float(noise.mean())})


@method("ar-gap-fill", version="2")  # 2: unstable predictors are stabilised (long gaps no longer diverge)
class AutoregressiveGapFill(Method):
    """Fill each known gap by autoregressive extrapolation from both sides, cross-faded.

    An order-``order`` linear predictor is fitted by least squares on up to ``context`` samples before
    (and, reversed in time, after) the gap; the forward and backward predictions are blended linearly.
    Works on waveform masks; a gap with no context on one side uses the other side only. A least-squares
    predictor can be unstable (a pole outside the unit circle): harmless over a few samples, it diverges to
    infinity over the thousands of a 0.1 s hole, so such poles are reflected inside the circle (1 / conj),
    which keeps the spectral shape and makes the extrapolation decay.
    """

    tasks = ("inpainting",)

    def __init__(self, order: int = 32, context: int = 1024):
        super().__init__(order=order, context=context)
        self.order, self.context = int(order), int(context)

    def restore(self, observation, context):
        mask = observation.known.get("mask")
        if mask is None or np.shape(mask) != observation.signal.shape:
            raise ValueError("ar-gap-fill needs a waveform mask of the signal's shape in observation.known['mask']")
        y = observation.signal.astype(np.float64).copy()
        for start, stop in _runs_of_zeros(np.asarray(mask)):
            length = stop - start
            forward = self._extrapolate(y[max(0, start - self.context):start], length)
            backward = self._extrapolate(y[stop:stop + self.context][::-1], length)
            if backward is not None:
                backward = backward[::-1]
            if forward is None and backward is None:
                continue
            if forward is None or backward is None:
                y[start:stop] = forward if backward is None else backward
            else:
                ramp = np.linspace(0, 1, length + 2)[1:-1]
                y[start:stop] = (1 - ramp) * forward + ramp * backward
        return y

    def _extrapolate(self, history: np.ndarray, length: int) -> np.ndarray | None:
        p = min(self.order, history.size // 4)
        if p < 2:
            return None
        rows = np.lib.stride_tricks.sliding_window_view(history, p + 1)
        coeffs, *_ = np.linalg.lstsq(rows[:, :p], rows[:, p], rcond=None)
        coeffs = _stable(coeffs)
        buffer = list(history[-p:])
        for _ in range(length):
            buffer.append(float(np.dot(coeffs, buffer[-p:])))
        return np.asarray(buffer[p:])


def _stable(coeffs: np.ndarray) -> np.ndarray:
    """Predictor coefficients (oldest first) with every pole of 1 / (1 - sum c_k z^-k) inside the unit circle."""
    poles = np.roots(np.concatenate([[1.0], -coeffs[::-1]]))
    outside = np.abs(poles) >= 1.0
    if not outside.any():
        return coeffs
    poles[outside] = 1.0 / np.conj(poles[outside]) * 0.999
    return -np.real(np.poly(poles))[1:][::-1]


def _runs_of_zeros(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[1], (mask > 0).astype(np.int8), [1]]))
    return list(zip(np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)))


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    return y[:n] if y.size >= n else np.pad(y, (0, n - y.size))
