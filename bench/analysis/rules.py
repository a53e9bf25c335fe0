"""Selection rules: which iterate of a traced fit a table reports.

- ``final``: the method's final estimate.
- ``oracle:each``: each metric output at its own best traced iterate (``oracle`` is its deprecated alias);
  the outputs may come from iterates that no single stopping point reached.
- ``oracle:<output>``: every metric at the one traced iterate that is best by ``<output>`` against the
  clean signal (``oracle:snr`` is Narayanaswamy et al.'s rule).
- ``blind:<rule>``: every metric at the iterate a blind stopping rule picks (``bench.analysis.stopping``).

Direction matters: a lower-is-better output's oracle takes the minimum, and an undefined score (None)
never wins. The worker records, per rule, the iterate it picked and every metric at that iterate
(``record["selected"]``); ``final`` and ``oracle:each`` are the record's ``scores`` and ``oracle_scores``.
"""
from __future__ import annotations

import math

from bench.analysis.stopping import BLIND_RULES, BlindTrace, NotApplicable
from bench.core.suggest import did_you_mean

FINAL, EACH = "final", "oracle:each"
_ALIASES = {"oracle": EACH}


def parse_rule(text: str, where: str = "select", outputs: list[str] | None = None) -> str:
    """The canonical name of a rule, or ValueError naming ``where`` and the closest valid rules;
    with ``outputs`` (a suite's metric outputs), ``oracle:<output>`` must name one of them."""
    from bench.metrics import output_spec

    rule = _ALIASES.get(str(text).strip(), str(text).strip())
    kind, _, arg = rule.partition(":")
    if rule in (FINAL, EACH):
        return rule
    if kind == "oracle" and outputs is not None and arg not in outputs:
        raise ValueError(f"{where}: {rule!r} chooses by {arg!r}, which is not an output of the suite's metrics "
                         f"({', '.join(outputs)}).{did_you_mean(arg, outputs)}")
    if kind == "oracle" and arg and output_spec(arg) is not None:
        return rule
    if kind == "blind" and arg in BLIND_RULES:
        return rule
    known = [FINAL, EACH, "oracle", *(f"blind:{name}" for name in BLIND_RULES), *_oracle_examples()]
    hint = did_you_mean(rule, known)
    raise ValueError(f"{where}: unknown selection rule {text!r}; rules are final, oracle:each, oracle:<metric "
                     f"output> (e.g. oracle:snr), {', '.join(f'blind:{n}' for n in BLIND_RULES)}.{hint}")


def check_form(text: str, where: str = "select") -> str:
    """The canonical name of a rule whose form is valid, checked without the metric registry (so reading a
    suite imports no metric): ``oracle:<output>`` is checked against the metrics by ``parse_rule``."""
    rule = _ALIASES.get(str(text).strip(), str(text).strip())
    kind, _, arg = rule.partition(":")
    if rule in (FINAL, EACH) or (kind == "oracle" and arg) or (kind == "blind" and arg in BLIND_RULES):
        return rule
    known = [FINAL, EACH, "oracle:snr", *(f"blind:{name}" for name in BLIND_RULES)]
    raise ValueError(f"{where}: unknown selection rule {text!r}; rules are final, oracle:each, oracle:<metric "
                     f"output> (e.g. oracle:snr), {', '.join(f'blind:{n}' for n in BLIND_RULES)}."
                     f"{did_you_mean(rule, known)}")


def _oracle_examples() -> list[str]:
    from bench.metrics import METRICS

    return [f"oracle:{o.name}" for entry in METRICS.entries() for o in entry.obj.outputs]


def which(rule: str) -> str:
    """The long table's ``which`` value that holds a rule's scores."""
    return {FINAL: "estimate", EACH: "oracle"}.get(rule, rule)


def describe(rule: str) -> str:
    """A table caption's words for a rule."""
    kind, _, arg = rule.partition(":")
    if rule == FINAL:
        return "final estimate (final)"
    if rule == EACH:
        return "each metric at its own best traced iterate against the clean signal (oracle:each)"
    if kind == "oracle":
        return f"every metric at the traced iterate with the best {arg} against the clean signal ({rule})"
    return f"every metric at the iterate the blind stopping rule '{arg}' picks ({rule})"


def oracle_iteration(trace: list[dict], output: str) -> int | None:
    """The traced iterate with the best defined value of ``output`` (the earliest of ties), or None."""
    from bench.metrics import output_spec

    spec = output_spec(output)
    sign = 1.0 if spec is None or spec.higher_is_better else -1.0
    best, best_at = None, None
    for point in trace:
        value = point["scores"].get(output)
        if value is None or not math.isfinite(value):
            continue
        if best is None or sign * value > sign * best:
            best, best_at = value, int(point["iteration"])
    return best_at


def stated_noise_std(config: dict) -> float | None:
    """The noise level a task states: gaussian-noise's ``std`` (not when the clip is rescaled to a level)."""
    corruption = config.get("corruption") or {}
    params = corruption.get("params") or {}
    if corruption.get("name") == "gaussian-noise" and params.get("std") is not None \
            and params.get("level_dbfs") is None:
        return float(params["std"])
    return None


def picks(trace: list[dict], outputs: list[str], noise_std: float | None) -> dict[str, tuple[int | None, str | None]]:
    """Every recorded rule's (picked iteration, reason it does not apply): ``oracle:<output>`` for each of
    ``outputs`` and every blind rule. The blind rules get only the trace's blind statistics."""
    out: dict[str, tuple[int | None, str | None]] = {}
    for output in outputs:
        iteration = oracle_iteration(trace, output)
        out[f"oracle:{output}"] = (iteration, None if iteration is not None else f"no defined {output} in the trace")
    blind = BlindTrace.from_trace(trace, noise_std)
    for name, rule in BLIND_RULES.items():
        try:
            out[f"blind:{name}"] = (rule(blind), None)
        except NotApplicable as exc:
            out[f"blind:{name}"] = (None, f"not applicable: {exc}")
    return out


def rule_rows(rule: str) -> list[str]:
    """The rules a table with a "rule" row field shows: the final iterate, the table's oracle rule and every
    blind rule (the stopping-rules layout)."""
    return list(dict.fromkeys([FINAL, rule, *(f"blind:{name}" for name in BLIND_RULES)]))
