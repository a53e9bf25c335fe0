"""``bench merge A B ... -o C``: results folders gathered by cell key; reproducibility disagreements listed."""
from __future__ import annotations

from pathlib import Path

EXIT_DISAGREE = 1


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "merge", help="gather results folders into one; list records of one cell that disagree",
        description="Copies every record of the folders into -o by cell key. Two records of one key whose scores "
                    "differ past the golden check's tolerance are listed as 'disagree' (machine, torch, precision, "
                    "spread); both are kept under OUTPUT/disagreements/KEY/ and nothing is averaged. Exit 1 when "
                    "some disagree.")
    p.add_argument("folders", nargs="+", help="results folders, in order of preference")
    p.add_argument("-o", "--output", help="the merged folder (new or empty); without it, only list")
    p.set_defaults(handler=cmd_merge)


def cmd_merge(args) -> int:
    from bench.records.merge import gather, summary_lines, write_merged

    if len(args.folders) < 2:
        raise ValueError("bench merge: give at least two results folders")
    gathered = gather([Path(f) for f in args.folders])
    print("\n".join(summary_lines(gathered)))
    if args.output:
        print(f"wrote {write_merged(gathered, Path(args.output))}")
    return EXIT_DISAGREE if gathered.disagreements else 0
