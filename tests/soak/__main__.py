"""``make soak`` / ``python -m tests.soak``: one soak of the local mesh, its table on stdout.

Exits 0 when every invariant holds and the mesh went quiet, 1 otherwise (the table names each
violation). By default the seed is run twice — under faults, then fault-free — and each
repository's final state is compared (``final_states_equal_fault_free``; each difference is a
violation). Options: ``--repos`` (default 300), ``--seed`` (default 1), ``--no-compare`` (only the
run under faults), ``--no-faults`` (only a clean run: duplicates and reordering still, no kills,
upstream faults, Postgres outage, effect crashes or internal duplicates), and ``--data-dir``
(default ``.data/soak``; its embedded Postgres is the soak's own, so stopping it disturbs
nothing else).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from tests.soak.faults import NO_FAULTS, FaultPlan
from tests.soak.harness import SoakOptions, run_compared, run_soak

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the soak, print the table; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--repos", type=int, default=300, help="repositories to seed")
    parser.add_argument("--seed", type=int, default=1, help="the RNG seed")
    parser.add_argument("--no-faults", action="store_true", help="only a fault-free run")
    parser.add_argument(
        "--no-compare", action="store_true", help="skip the fault-free run of the same seed"
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".data" / "soak")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fakes' request lines
    logging.getLogger("codex_judge.mesh.dispatcher").setLevel(logging.ERROR)  # retried sends
    shutil.rmtree(args.data_dir / "logs", ignore_errors=True)
    if args.no_faults:
        opts = SoakOptions(
            repos=args.repos, seed=args.seed, faults=NO_FAULTS, internal_duplicates=0.0
        )
        report = run_soak(opts, args.data_dir)
    else:
        opts = SoakOptions(repos=args.repos, seed=args.seed, faults=FaultPlan())
        run = run_soak if args.no_compare else run_compared
        report = run(opts, args.data_dir)
    print(report.table(), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
