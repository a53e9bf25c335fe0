"""``bench list``: what is registered, with versions and descriptions; ``--details`` imports the
implementations to show tasks, parameter counts, units and directions."""
from __future__ import annotations

import json

from bench.commands.exit_codes import EXIT_OK

KINDS = ("methods", "datasets", "corruptions", "metrics", "suites")
DETAIL_FIELDS = ("tasks", "task", "kind")


def register(subparsers) -> None:
    p = subparsers.add_parser("list", help="list registered methods, datasets, corruptions, metrics or suites")
    p.add_argument("kind", nargs="?", choices=KINDS)
    p.add_argument("--details", action="store_true", help="show versions, tasks and parameters")
    p.add_argument("--json", action="store_true", help="as JSON: {kind: [{name, version, description}]}")
    p.set_defaults(handler=cmd_list)


def cmd_list(args) -> int:
    from bench.core.registry import REGISTRIES

    kinds = [args.kind] if args.kind else list(KINDS)
    if not args.details:  # read from the source of the registering modules: no implementation is imported
        listed = {kind: REGISTRIES[kind].listing() for kind in kinds}
        if args.json:
            print(json.dumps(listed, indent=2, ensure_ascii=False))
            return EXIT_OK
        for kind, rows in listed.items():
            print(f"{kind}:")
            for row in rows:
                print(f"  {row['name']:<24} v{row['version']:<4} {row['description']}")
            print()
        return EXIT_OK
    if args.json:
        print(json.dumps({kind: [{"name": e.name, "version": e.version, "description": e.description,
                                  **{k: v for k, v in e.meta.items() if k in DETAIL_FIELDS}}
                                 for e in REGISTRIES[kind].entries()] for kind in kinds}, indent=2,
                         ensure_ascii=False))
        return EXIT_OK
    for kind in kinds:
        print(f"{kind}:")
        for entry in REGISTRIES[kind].entries():
            print(f"  {entry.name:<24} v{entry.version:<4} {entry.description}{_details(kind, entry)}")
        print()
    return EXIT_OK


def _details(kind: str, entry) -> str:
    if kind == "methods":
        details = {"tasks": ",".join(entry.meta.get("tasks", ()))}
        try:
            details.update(entry.obj().details())
        except TypeError:
            pass
        details.update(suite_variant_details(entry))
        return "\n" + "\n".join(f"{'':28}{k}: {v}" for k, v in details.items())
    if kind == "corruptions":
        return f"  [task: {entry.meta.get('task')}]"
    if kind == "metrics":
        outs = ", ".join(f"{o.name} ({o.unit or '-'}, {o.arrow})" for o in entry.obj.outputs)
        return f"  [{outs}]"
    if kind == "datasets":
        return f"  [kind: {entry.meta.get('kind')}]"
    if kind == "suites":
        suite = entry.obj
        return f"  [includes: {', '.join(suite.includes)}]" if suite.includes else ""
    return ""


def suite_variant_details(entry) -> dict:
    """The method's details (e.g. N_P) for each parameter set a registered suite runs it with:
    "<suite>: <label>" -> its details."""
    from bench.components.method import build_method
    from bench.planning.suite import SUITES

    out = {}
    for name in SUITES.names():
        for method in SUITES.get(name).obj.methods:
            if method.name != entry.name or not method.params:
                continue
            try:
                details = build_method(method.name, method.params).details()
            except (TypeError, ValueError):
                continue
            if details:
                out[f"{name}: {method.label}"] = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                                          for k, v in details.items())
    return out
