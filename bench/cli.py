"""The ``bench`` command line: the parser, assembled from the commands in ``bench/commands/`` (each module
has ``register(subparsers)``, which adds its parser and sets ``handler``, a function from the parsed
arguments to an exit status), and what an error becomes (one line and an exit code, README "Exit codes")."""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import traceback

from bench.commands.exit_codes import (  # noqa: F401 - re-exported: the exit codes' old import path
    EXIT_CELLS_FAILED,
    EXIT_ENVIRONMENT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)

COMMAND_MODULES: list[str] = ["bench.commands.list", "bench.commands.run", "bench.commands.train",
                              "bench.commands.status", "bench.commands.report", "bench.commands.score",
                              "bench.commands.corrupt", "bench.commands.data", "bench.commands.compare",
                              "bench.commands.check", "bench.commands.claims", "bench.commands.leaderboard",
                              "bench.commands.merge"]


class Terminated(KeyboardInterrupt):
    """SIGTERM (a job scheduler's stop, ``kill``): handled as Ctrl-C is, so workers stop and records stay."""


def _terminate(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker process: the scheduler runs one per core
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    from bench.components.dataset import CorpusMissing
    from bench.core.registry import UnknownNameError

    previous = _on_sigterm(_terminate)
    try:
        return args.handler(args)
    except BrokenPipeError:  # `bench report ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit cannot fail
        return EXIT_OK
    except (UnknownNameError, CorpusMissing, ValueError, FileNotFoundError) as exc:
        return _error(args, exc, EXIT_USAGE)
    except OSError as exc:  # the machine, not the input: a results folder not writable, a full disk
        return _error(args, exc, EXIT_ENVIRONMENT)
    except KeyboardInterrupt as exc:
        print(f"bench: {'terminated' if isinstance(exc, Terminated) else 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a bug: one line, and the traceback with --debug
        return _error(args, exc, EXIT_INTERNAL, f"unexpected {type(exc).__name__}: ")
    finally:
        _on_sigterm(previous)


def _on_sigterm(handler):
    """Install a SIGTERM handler; returns the previous one (None off the main thread, where it cannot be set)."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def _error(args, exc: BaseException, code: int, prefix: str = "") -> int:
    if args.debug:
        traceback.print_exception(exc)
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        message = f"{exc.filename}: {exc.strerror}"
    hint = "" if args.debug else " (bench --debug ... shows the traceback)" if code == EXIT_INTERNAL else ""
    print(f"bench: error: {prefix}{message}{hint}", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    import bench

    parser = argparse.ArgumentParser(prog="bench", description="Benchmark harness for unsupervised audio restoration.")
    parser.add_argument("--version", action="version", version=f"bench {bench.__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


if __name__ == "__main__":
    sys.exit(main())
