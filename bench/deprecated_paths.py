"""Old import paths of modules that moved into stage sub-packages, kept working for one release.

``import bench.record`` (or ``from bench import record``) still gives the module, now
``bench.records.record``, with a DeprecationWarning naming the new path. The alias is the very module object,
so patching or reading an attribute through the old path acts on the real module.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "bench.audio": "bench.core.audio",
    "bench.audio_io": "bench.core.audio_io",
    "bench.cells": "bench.planning.cells",
    "bench.claims": "bench.running.leases",
    "bench.clip_cache": "bench.components.clip_cache",
    "bench.compare": "bench.analysis.compare",
    "bench.corpus": "bench.components.corpus",
    "bench.dataset": "bench.components.dataset",
    "bench.devices": "bench.running.devices",
    "bench.fitting": "bench.components.fitting",
    "bench.from_records": "bench.records.from_records",
    "bench.golden": "bench.analysis.golden",
    "bench.host_copies": "bench.components.host_copies",
    "bench.jsonable": "bench.core.jsonable",
    "bench.method": "bench.components.method",
    "bench.methods.binary_masking": "bench.methods.support.binary_masking",
    "bench.methods.harmonic_conv": "bench.methods.networks.harmonic_conv",
    "bench.methods.power_spectrogram": "bench.methods.support.power_spectrogram",
    "bench.methods.speaker_mixtures": "bench.methods.support.speaker_mixtures",
    "bench.methods.spectral_unet": "bench.methods.networks.spectral_unet",
    "bench.methods.spectrogram_vaes": "bench.methods.networks.spectrogram_vaes",
    "bench.methods.wave_unet": "bench.methods.networks.wave_unet",
    "bench.methods.waveform_demucs": "bench.methods.networks.waveform_demucs",
    "bench.parameters": "bench.core.parameters",
    "bench.progress": "bench.core.progress",
    "bench.protocol": "bench.core.protocol",
    "bench.provenance": "bench.core.provenance",
    "bench.record": "bench.records.record",
    "bench.registry": "bench.core.registry",
    "bench.rules": "bench.analysis.rules",
    "bench.scheduler": "bench.running.scheduler",
    "bench.seeds": "bench.core.seeds",
    "bench.selection": "bench.planning.selection",
    "bench.stft": "bench.core.stft",
    "bench.stopping": "bench.analysis.stopping",
    "bench.store": "bench.records.store",
    "bench.submitit_backend": "bench.running.submitit_backend",
    "bench.suite": "bench.planning.suite",
    "bench.trace_scoring": "bench.running.trace_scoring",
    "bench.train_stage": "bench.running.train_stage",
    "bench.training": "bench.components.training",
    "bench.worker": "bench.running.worker",
    "bench.worker_pool": "bench.running.worker_pool",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target
        self.spec = None

    def create_module(self, spec):
        warnings.warn(f"{spec.name} is deprecated: import {self.target} (plugins: from bench import ...)",
                      DeprecationWarning, stacklevel=3)
        module = importlib.import_module(self.target)
        self.spec = module.__spec__
        return module

    def exec_module(self, module):
        module.__spec__ = self.spec  # the import system stamped the alias's spec on the real module


class MovedModules(importlib.abc.MetaPathFinder):
    """Finds an old module path and hands back the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(MOVED[fullname]))


def install() -> None:
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(MovedModules())
