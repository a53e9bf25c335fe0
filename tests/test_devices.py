"""One way a process is pinned to its device (bench.running.devices.pin), for cells and training jobs alike."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import bench.running.devices

BENCH = Path(bench.running.devices.__file__).parent


def _in_a_fresh_process(code: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_the_first_pin_decides_and_the_local_name_follows():
    got = _in_a_fresh_process(
        "import json, os; from bench.running.devices import pin, pinned_device\n"
        "first = pin('cuda:1'); second = pin('cuda:0')\n"
        "print(json.dumps([first, second, os.environ.get('CUDA_VISIBLE_DEVICES'), pinned_device()]))")
    assert got == ["cuda", "cuda", "1", "cuda:1"]
    got = _in_a_fresh_process(
        "import json, os; from bench.running.devices import pin, pinned_device\n"
        "print(json.dumps([pin('cpu'), pin('cuda:1'), os.environ.get('CUDA_VISIBLE_DEVICES'), pinned_device()]))")
    assert got == ["cpu", "cpu", None, "cpu"]


def test_only_the_devices_module_sets_the_visible_devices():
    writers = [p.name for p in BENCH.rglob("*.py")
               if 'environ["CUDA_VISIBLE_DEVICES"] =' in p.read_text() or "environ['CUDA_VISIBLE_DEVICES'] =" in p.read_text()]
    assert writers == ["devices.py"]
