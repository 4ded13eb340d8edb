"""The ``kolgraph`` command line.

Every subcommand prints a readable summary by default and JSON with
``--json``. Errors print one line (``error: ...``) and exit with a code that
says what went wrong; ``--debug`` shows the traceback instead.

Exit codes: 0 ok, 1 unexpected failure, 2 bad command line, 3 bad input data,
4 store missing or corrupted, 130 interrupted.

Each command lives in its own module, its flags (``register_*``) beside its handler
(``cmd_*``); the modules import the library inside the handlers so ``kolgraph --help``
stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from kolgraph import __version__
from kolgraph.cli import (
    botscore,
    demo,
    engagement,
    fraud,
    info,
    ingest,
    plan,
    propagation,
    reach,
    serve,
    sketch,
    synth,
)
from kolgraph.cli._output import error
from kolgraph.exceptions import KolgraphError

# in the order of `kolgraph --help`
_COMMANDS = (
    ingest.register_ingest, ingest.register_export, engagement.register_add_interactions,
    info.register_info, info.register_verify, synth.register_synth, reach.register_reach,
    engagement.register_engagement, sketch.register_sketch,
    sketch.register_dask_bucket, sketch.register_sketch_merge, reach.register_overlap,
    reach.register_similar, reach.register_complementary, plan.register_plan,
    propagation.register_spread, propagation.register_seeds, botscore.register_profiles,
    fraud.register_fraud, botscore.register_score_accounts, serve.register_serve,
    serve.register_api_key, demo.register_demo,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kolgraph",
        description="Audience-overlap graph engine for influencer (KOL) marketing.",
        epilog="Start with `kolgraph demo`. Exit codes: 0 ok, 1 failure, 2 usage, 3 bad input, "
               "4 store missing/corrupted.")
    p.add_argument("--version", action="version", version=f"kolgraph {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _COMMANDS:
        register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return args.func(args)
    except KolgraphError as exc:
        if debug:
            raise
        error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:  # e.g. `kolgraph info --json | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- keep the interpreter from re-raising at exit
        return 0
    except (OSError, MemoryError) as exc:
        if debug:
            raise
        error(f"{type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
