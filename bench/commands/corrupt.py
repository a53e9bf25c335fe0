"""`bench corrupt INPUT --corruption NAME[param=value,...] --seed N -o OUTPUT`: corrupt a file.

Runs one registered corruption on an audio file, writes the corrupted signal and prints what it did (the
parameters used, the realised SNR, RT60, mask positions, ...) as JSON. Parameter values are TOML values:
``reverb[rt60=0.5]``, ``environmental-noise[noise_params={environment="DLIVING"},snr_min=5]``; a bare word
is read as a string (``environmental-noise[noise=demand]``). INPUT may be a comma-separated list of files,
one per source, for ``mixture``.
"""
from __future__ import annotations

import re
import tomllib

import numpy as np

from bench.commands.audio_files import check_samples, dump, print_notes, read_signal, write_signal
from bench.core.files import write_with

_SPEC = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(?:\[(.*)\])?\s*$", re.DOTALL)


def register(subparsers) -> None:
    p = subparsers.add_parser("corrupt", help="apply a registered corruption to an audio file")
    p.add_argument("input", help="clean audio: a file, or file1,file2,... (sources, for mixture)")
    p.add_argument("--corruption", required=True, help='NAME or NAME[param=value,...], e.g. "reverb[rt60=0.5]"')
    p.add_argument("--seed", type=int, default=0, help="seed of the corruption's random draws (default 0)")
    p.add_argument("-o", "--output", required=True, help="where to write the corrupted audio")
    p.add_argument("--sr", type=int, help="resample the input to this rate first")
    p.add_argument("--reference-out", help="also write the reference the metrics would score against")
    p.add_argument("--known-out", help="also write what a method may know (masks, ...) to this .npz file")
    p.add_argument("--subtype", default="FLOAT", help="libsndfile subtype of the written files (default FLOAT)")
    p.add_argument("--data", help="data root for corruptions that read a corpus (default: $BENCH_DATA)")
    p.add_argument("--synthetic", action="store_true", help="use a synthetic stand-in for a missing noise corpus")
    p.set_defaults(handler=cmd_corrupt)


def parse_corruption(spec: str) -> tuple[str, dict]:
    """``"NAME[a=1,b=x]"`` -> ("NAME", {"a": 1, "b": "x"})."""
    match = _SPEC.match(spec)
    if not match:
        raise ValueError(f"cannot read corruption {spec!r}; write NAME or NAME[param=value,...]")
    name, body = match.group(1), (match.group(2) or "").strip()
    if not body:
        return name, {}
    try:
        return name, tomllib.loads(f"p = {{ {body} }}")["p"]
    except tomllib.TOMLDecodeError:
        pass
    params = {}
    for item in _split_top_level(body):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"cannot read parameter {item!r} of {spec!r}; write param=value")
        try:
            params[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            params[key.strip()] = value.strip()
    return name, params


def _split_top_level(body: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes."""
    items, depth, quote, current = [], 0, None, []
    for ch in body:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    return [i for i in items if i.strip()]


def cmd_corrupt(args) -> int:
    from bench.components.dataset import data_root
    from bench.core.audio import Clip
    from bench.core.parameters import check_parameters
    from bench.core.registry import CORRUPTIONS
    from bench.corruptions import Corruption, build_corruption

    name, params = parse_corruption(args.corruption)
    entry = CORRUPTIONS.get(name)
    check_parameters(entry.obj, Corruption, params, f"--corruption {args.corruption!r}")
    params = entry.obj.resolve_params(params, synthetic=args.synthetic, data_root=args.data)
    samples, sr, notes = read_signal(args.input, args.sr)
    clip = Clip(samples, sr, dataset="file", item=args.input)
    corruption = build_corruption(name, params, data_root(args.data))
    observation = corruption.apply(clip, np.random.default_rng(args.seed))
    check_samples(f"{name} of {args.input}", observation.signal)  # never a NaN file: say so instead

    write_signal(args.output, observation.signal, sr, args.subtype)
    written = {"output": args.output}
    if args.reference_out and observation.reference is not None:
        write_signal(args.reference_out, observation.reference, sr, args.subtype)
        written["reference"] = args.reference_out
    if args.known_out:
        known = {k: np.asarray(v) for k, v in observation.known.items() if isinstance(v, (np.ndarray, int, float))}
        path = args.known_out if args.known_out.endswith(".npz") else args.known_out + ".npz"  # as np.savez names it
        write_with(path, lambda f: np.savez(f, **known))
        written["known"] = args.known_out
    print_notes(notes)
    print(dump({"corruption": name, "version": entry.version, "params": params, "seed": args.seed,
                "input": args.input, "sr": sr, "num_samples": int(observation.signal.shape[-1]),
                "task": observation.task, "info": observation.info, "known": observation.known,
                "written": written, "notes": notes}))
    return 0
