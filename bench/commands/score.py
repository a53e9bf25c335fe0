"""`bench score REFERENCE ESTIMATE`: score any pair of audio files with the registered metrics.

For outputs of methods that live outside the harness. REFERENCE and ESTIMATE are files, or comma-separated
lists of files for separation (one per source, in the same order; BSS Eval resolves the permutation).
With ``--input`` (the corrupted file the method was given) the input is scored too and the improvement
metrics (si_sdr_i, snr_i, psnr_i, ...) are derived, as in a harness run.
"""
from __future__ import annotations

import numpy as np

from bench.commands.audio_files import dump, print_notes, read_signal


def register(subparsers) -> None:
    p = subparsers.add_parser("score", help="score an estimate file against a reference file with every metric")
    p.add_argument("reference", help="clean reference: a file, or file1,file2,... (one per source)")
    p.add_argument("estimate", help="estimate: a file, or file1,file2,... (one per source, same count)")
    p.add_argument("--input", help="the corrupted input the estimate was made from: adds the improvement metrics")
    p.add_argument("--metrics", help="comma-separated metric names (default: every metric that applies)")
    p.add_argument("--sr", type=int, help="resample everything to this rate first (default: the reference's)")
    p.add_argument("--trim", action="store_true",
                   help="cut files of different lengths to the shortest (default: different lengths are an error)")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(handler=cmd_score)


def cmd_score(args) -> int:
    from bench.core.registry import METRICS
    from bench.metrics import evaluate, get_metric

    reference, sr, notes = read_signal(args.reference, args.sr, trim=args.trim)
    estimate, _, more = read_signal(args.estimate, sr, trim=args.trim)
    notes += more
    if reference.ndim != estimate.ndim or (reference.ndim == 2 and reference.shape[0] != estimate.shape[0]):
        raise ValueError(f"{_count(reference)} reference source(s) but {_count(estimate)} estimated source(s)")
    noisy = None
    if args.input:
        noisy, _, more = read_signal(args.input, sr)
        notes += more
        if noisy.ndim != 1:
            raise ValueError("--input is the corrupted signal the method saw: one file")
    reference, estimate, noisy = _same_length(args, sr, notes, reference, estimate, noisy)
    sources = _count(reference)

    if args.metrics:
        metrics = [get_metric(name.strip()) for name in args.metrics.split(",") if name.strip()]
    else:
        metrics = [e.obj for e in METRICS.entries()
                   if (e.obj.base is None or args.input) and (e.obj.per_source or sources > 1)]
    improvements = [m for m in metrics if m.base is not None]
    if improvements and not args.input:
        raise ValueError(f"{', '.join(m.name for m in improvements)} need the corrupted --input file")
    bases = {m.base for m in improvements}
    for m in metrics:  # an improvement needs the metric it improves on
        bases.discard(m.name)
        bases.difference_update(m.output_names)
    metrics += [_metric_with_output(base) for base in sorted(bases)]

    scores, errors = evaluate(metrics, reference, estimate, sr)
    result = {"reference": args.reference, "estimate": args.estimate, "sr": sr, "sources": sources,
              "num_samples": int(reference.shape[-1]), "scores": scores, "errors": errors}
    if noisy is not None:
        baseline = np.broadcast_to(noisy, reference.shape)
        input_scores, input_errors = evaluate(metrics, reference, np.array(baseline), sr)
        for m in improvements:
            a, b = scores.get(m.base), input_scores.get(m.base)
            scores[m.name] = None if a is None or b is None else a - b
        result.update(input=args.input, input_scores=input_scores,
                      input_errors={f"input:{k}": v for k, v in input_errors.items()})
    result["notes"] = notes
    print_notes(notes)
    print(dump(result) if args.json else _table(scores, errors))
    return 0


def _count(signal: np.ndarray) -> int:
    return signal.shape[0] if signal.ndim == 2 else 1


def _same_length(args, sr: int, notes: list[str], *signals):
    """The signals as they are when their lengths agree; cut to the shortest with --trim; else an error
    naming each file and its length (a shorter estimate would otherwise be scored on a part of the clip)."""
    named = [(name, s) for name, s in zip((args.reference, args.estimate, args.input), signals) if s is not None]
    lengths = {name: s.shape[-1] for name, s in named}
    length = min(lengths.values())
    if len(set(lengths.values())) == 1:
        return signals
    described = ", ".join(f"{name}: {n} samples ({n / sr:.3f} s)" for name, n in lengths.items())
    if not args.trim:
        raise ValueError(f"the files have different lengths ({described}); score files of one length, or "
                         "pass --trim to cut them all to the shortest")
    notes.append(f"cut to the shortest, {length} samples ({described})")
    return tuple(None if s is None else s[..., :length] for s in signals)


def _metric_with_output(output_name: str):
    from bench.core.registry import METRICS

    for entry in METRICS.entries():
        if output_name in entry.obj.output_names and entry.obj.base is None:
            return entry.obj
    raise ValueError(f"no metric computes {output_name!r}")


def _table(scores: dict, errors: dict) -> str:
    from bench.metrics import output_spec

    lines = []
    for name, value in scores.items():
        spec = output_spec(name)
        unit = f" {spec.unit}" if spec and spec.unit else ""
        arrow = f"  ({spec.arrow})" if spec else ""
        shown = "undefined" if value is None else f"{value:.4f}{unit}"
        lines.append(f"{name:<24} {shown}{arrow}")
    for name, reason in errors.items():
        lines.append(f"{name}: {reason}")
    return "\n".join(lines)

