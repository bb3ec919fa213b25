"""`python -m bench`: run the benchmark, or rebuild the README table and plot from the results.

    .venv/bin/python -m bench run --sizes 165k,300k,1m     # the full run (about 75 min)
    .venv/bin/python -m bench run --quick                  # smoke: 400 papers, seconds
    .venv/bin/python -m bench report                       # README table + plot from latest.json
    .venv/bin/python -m bench profile server --class broad # py-spy: where the server spends its time
"""

import argparse
import shlex
import sys
from pathlib import Path

from bench import report
from bench.common import parse_size
from bench.run import PEERS, Config, run

STAGES = ("ingest", "search", "http", "load", "peers")


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="measure (writes bench/results/latest.json and the README table)")
    r.add_argument("--sizes", help="corpus sizes, e.g. 165k,300k,1m (165k is the real corpus;"
                                   " larger sizes add synthetic papers; default 165k, or 400 with --quick)")
    r.add_argument("--quick", action="store_true", help="smoke mode: few papers, few repeats, 2 s loads")
    r.add_argument("--stages", default=",".join(STAGES), help=f"subset of {','.join(STAGES)}")
    r.add_argument("--peers", default=",".join(PEERS), help="peers to run (empty for none)")
    r.add_argument("--reps", type=int, help="repeats per query in process (default 50, quick 3)")
    r.add_argument("--http-reps", type=int, help="repeats per query over HTTP (default 30, quick 3)")
    r.add_argument("--budget", type=float, help="seconds at most per query and engine (default 10)")
    r.add_argument("--duration", type=float, help="seconds per load-test cell (default 10, quick 2)")
    r.add_argument("--concurrency", help="load-test client counts (default 1,4,20; quick 4)")
    r.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    r.add_argument("--whoosh-limit", type=int, help="papers Whoosh indexes at most (default 50000)")
    r.add_argument("--app", default="HEAD", help="git revision of the app to measure (a snapshot under"
                                                 " bench/work/app-trees), or 'worktree' for the files as they are")
    r.add_argument("--out", type=Path, help="results JSON (default bench/results/latest.json;"
                                            " quick: bench/work/quick.json)")
    r.add_argument("--no-readme", action="store_true", help="do not rewrite bench/README.md and the plot")
    sub.add_parser("report", help="rewrite the README table and plot from bench/results/latest.json")
    p = sub.add_parser("profile", help="py-spy profile of the server under load, or of an ingest")
    p.add_argument("target", choices=["server", "ingest"])
    p.add_argument("--db", default="bench/work/runs/165k/app/papers.db")
    p.add_argument("--file", help="data file to ingest (profile ingest)")
    p.add_argument("--endpoint", choices=["page", "fragment", "api"], default="page")
    p.add_argument("--class", dest="kind", choices=["specific", "broad"], default="broad")
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--gil", action="store_true", help="sample only the thread holding the GIL (Python CPU)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "profile":
        from bench import profile

        return profile.main(args)
    if args.command == "report":
        report.write_outputs(report.load(report.LATEST))
        return 0
    overrides: dict = {}
    for name, value in (("reps", args.reps), ("http_reps", args.http_reps), ("budget_s", args.budget),
                        ("duration_s", args.duration), ("whoosh_limit", args.whoosh_limit), ("out", args.out)):
        if value is not None:
            overrides[name] = value
    if args.concurrency:
        overrides["concurrencies"] = [int(c) for c in _csv(args.concurrency)]
    unknown = set(_csv(args.stages)) - set(STAGES) | set(_csv(args.peers)) - set(PEERS)
    if unknown:
        print(f"unknown stage or peer: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    overrides.update(app_rev=args.app, stages=tuple(_csv(args.stages)), peers=tuple(_csv(args.peers)), loadgen=args.loadgen,
                     command="python -m bench " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])))
    sizes = [parse_size(s) for s in _csv(args.sizes or ("400" if args.quick else "165k"))]
    if args.quick:
        cfg = Config.quick_defaults(sizes=sizes, **overrides)
    else:
        cfg = Config(sizes=sizes, **overrides)
    if args.no_readme:
        cfg.readme = False
    run(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
