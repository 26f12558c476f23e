"""Throughput benchmark of jaxrl's compiled programs, with peers measured in the same run.

Workloads (each a list of result records, written to docs/BENCHMARKS.md and a JSON file):
- learner: a `lax.scan` of K updates sampled from a device dataset (`make_offline_chunk`), for
  every algorithm in the registry (TD3+BC and AWAC rows say "not available" until they are
  registered) plus the RLPD critic step (SAC, 10 LayerNorm critics, 2-of-10 target, UTD 20
  through `update_utd`), vmapped over 1, 2, 4, 8 runs (CPU) or 1, 8, 64, 256 (GPU);
- online: SAC on Brax halfcheetah through `make_online_chunk` (env steps/s and updates/s);
- o2o: one offline→online step of the RLPD recipe (UTD 20, 50/50 batches, 10 critics) and of the
  WSRL recipe (UTD 4, batch 1024), and the compile time of the whole offline→online program
  (offline chunk, switch, online chunk, evaluator) against the number of runs;
- env and buffer: `env.step` and `buffer_add`/`buffer_sample` in isolation;
- peers: d3rlpy (PyTorch) IQL, TD3+BC, CQL, AWAC and brax.training SAC, each run from its own
  virtual environment (experiments/peers/setup.sh) by a script that prints one JSON line.

Compile time is the ahead-of-time `lower().compile()` time; steady-state time is the median
of `reps` timed calls after a warm-up call, each ended by `block_until_ready`. FLOPs per update
come from XLA's cost analysis of one vmapped update (the analysis counts a loop body once, so
the scanned chunk is not used for it); the peak is a timed large f32 matmul on the same device.

The measuring is library code (`jaxrl.bench`: presets, workloads, peers, driver, report); this
file is its command line.

Usage:
    python experiments/benchmark.py --preset cpu            # about 15 minutes on 2 cores
    python experiments/benchmark.py --preset gpu --deadline 420 --peers d3rlpy   # one GPU lease
    python experiments/benchmark.py --preset cpu --only learner,online --no-peers
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jaxrl.bench import (  # noqa: E402
    LEARNERS,
    PRESETS,
    WORKLOADS,
    merge_saved,
    plot_runs,
    run_benchmark,
    write_report,
)

# The peer scripts and the setup.sh that builds their venvs (jaxrl.bench.peers).
PEER_SCRIPTS = Path(__file__).resolve().parent / "peers"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument(
        "--only", default=",".join(WORKLOADS), help=f"comma-separated subset of {WORKLOADS}"
    )
    p.add_argument("--learners", default="", help=f"subset of the learner rows {list(LEARNERS)}")
    p.add_argument("--no-peers", action="store_true", help="skip the peers (no venvs needed)")
    p.add_argument(
        "--peers", default="d3rlpy,brax", help="peers to run (d3rlpy, brax); others get a row"
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="seconds after which jobs not yet started are recorded as skipped (a leased GPU)",
    )
    p.add_argument("--out", default=str(ROOT / "docs/BENCHMARKS.md"), help="Markdown report")
    p.add_argument("--figure", default=str(ROOT / "docs/benchmarks_runs.png"))
    p.add_argument("--json", default="", help="also write the raw records here")
    p.add_argument("--notes", default="", help="a Markdown file appended as the Notes section")
    p.add_argument(
        "--from-json",
        default="",
        help="re-render the report from --json files (comma-separated: later files add the rows "
        "the earlier ones lack); runs nothing but a FLOP count where a run recorded none",
    )
    args = p.parse_args(argv)
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = sorted(set(only) - set(WORKLOADS))
    if unknown:
        p.error(f"unknown workload(s) {unknown}; allowed: {list(WORKLOADS)}")
    command = "python experiments/benchmark.py " + " ".join(
        sys.argv[1:] if argv is None else list(argv)
    )
    preset = PRESETS[args.preset]
    if args.learners:
        rows = tuple(x.strip() for x in args.learners.split(",") if x.strip())
        bad = sorted(set(rows) - set(LEARNERS))
        if bad:
            p.error(f"unknown learner row(s) {bad}; allowed: {list(LEARNERS)}")
        preset = dataclasses.replace(preset, learners=rows)
    if args.from_json:
        records, info = merge_saved([Path(f) for f in args.from_json.split(",") if f.strip()])
        command = info.get("command", command)
    else:
        peer_names = [x.strip() for x in args.peers.split(",") if x.strip()]
        bad = sorted(set(peer_names) - {"d3rlpy", "brax"})
        if bad:
            p.error(f"unknown peer(s) {bad}; allowed: ['d3rlpy', 'brax']")

        def save(records, info):  # after every record: a killed run keeps what it measured
            if args.json:
                payload = {"info": {**info, "command": command.strip()}, "records": records}
                Path(args.json).write_text(json.dumps(payload, indent=1, default=str))

        records, info = run_benchmark(
            preset,
            only,
            peers=not args.no_peers,
            preset_name=args.preset,
            deadline=args.deadline,
            peer_names=peer_names,
            on_record=save,
            peer_scripts=PEER_SCRIPTS,
        )
    out = Path(args.out)
    figure = Path(args.figure)
    has_fig = plot_runs(records, figure)
    rel = os.path.relpath(figure, out.parent) if has_fig else None
    notes = Path(args.notes).read_text() if args.notes else ""
    info["command"] = command.strip()
    write_report(records, info, info["command"], info.get("preset", args.preset), out, notes, rel)
    if args.json:
        Path(args.json).write_text(json.dumps({"info": info, "records": records}, indent=1))
    print(f"[benchmark] wrote {out} in {info.get('seconds', 0):.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
