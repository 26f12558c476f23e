"""The benchmark's Markdown report (docs/BENCHMARKS.md): targets, tables and a figure.

`write_report(records, info, ...)` renders the records of `jaxrl.bench.driver.run_benchmark`
(or of saved runs, `merge_saved`); every table goes through `jaxrl.report.markdown_table`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jaxrl.bench.presets import LEARNERS
from jaxrl.report import markdown_table


def _fmt(x, digits=3) -> str:
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _gflops(x) -> str:
    return "–" if x is None else f"{x / 1e9:.1f}"


def _mib(x) -> str:
    return "–" if x is None or x < 0 else f"{x / 2**20:.0f}"


LEARNER_COLUMNS = [
    "algo",
    "net",
    "runs",
    "compile s",
    "updates/s per run",
    "updates/s total",
    "× 1 run",
    "GFLOP/s",
    "% of peak",
    "device MiB",
    "vs d3rlpy",
]


def learner_table(records: list[dict[str, Any]]) -> list[str]:
    """Markdown rows of the learner sweep, with ratios to one run and to d3rlpy."""
    order = {name: i for i, name in enumerate(LEARNERS)}
    learner = sorted(
        (r for r in records if r["workload"] == "learner"),
        key=lambda r: (order.get(r["algo"], len(order)), r["net"], r["runs"]),
    )
    peers = {
        (r["algo"], r.get("net")): r
        for r in records
        if r["workload"] == "peer" and r.get("peer") == "d3rlpy"
    }
    one = {
        (r["algo"], r["net"]): r["updates_per_s"]
        for r in learner
        if r["runs"] == 1 and r["status"] == "ok"
    }
    rows = []
    for r in learner:
        if r["status"] != "ok":
            rows.append(
                [r["algo"], r["net"], str(r["runs"]), r["status"]]
                + [""] * (len(LEARNER_COLUMNS) - 4)
            )
            continue
        base = one.get((r["algo"], r["net"]))
        peer = peers.get((r["algo"], r["net"]))
        vs = "–"
        if r["runs"] == 1 and peer is not None:
            if peer.get("status") == "ok":
                vs = f"{r['updates_per_s'] / peer['updates_per_s']:.2f}×"
            else:
                vs = "peer " + peer.get("status", "?")[:40]
        cells = [
            r["algo"] + (f" (UTD {r['utd']})" if r.get("utd", 1) > 1 else ""),
            r["net"],
            str(r["runs"]),
            f"{r['compile_s']:.1f}",
            _fmt(r["updates_per_s_per_run"]),
            _fmt(r["updates_per_s"]),
            f"{r['updates_per_s'] / base:.2f}" if base else "–",
            _gflops(r["flops_per_s"]),
            f"{100 * r['peak_fraction']:.1f}",
            _mib(r["device_bytes"]),
            vs,
        ]
        rows.append(cells)
    return markdown_table(LEARNER_COLUMNS, rows).splitlines()


def verdicts(records: list[dict[str, Any]], preset_name: str) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each target of the performance issue."""
    by = lambda **kw: [  # noqa: E731
        r for r in records if all(r.get(k) == v for k, v in kw.items()) and r["status"] == "ok"
    ]
    out = []
    # The first (swept) network of the learner rows, 2x256 on the cpu and gpu presets.
    nets = [r["net"] for r in records if r["workload"] == "learner" and r["status"] == "ok"]
    net = nets[0] if nets else "2x256"

    def ratio_target(label, mine, theirs, key, goal):
        if not mine or not theirs:
            why = "not measured"
            if theirs == [] and mine:
                why = "peer not available"
            out.append((label, "–", why))
            return
        ratio = mine[0][key] / theirs[0][key]
        verdict = "met" if ratio >= goal else f"missed by {goal / ratio:.2f}× ({ratio:.2f}×)"
        if ratio < goal and "peak_fraction" in mine[0]:
            # The same update costs the same FLOPs in either framework: how close each gets to
            # the matmul peak says whether a larger gap can exist at all.
            mine_frac = mine[0]["peak_fraction"]
            verdict += (
                f"; jaxrl reaches {100 * mine_frac:.0f}% of the matmul peak, the peer "
                f"{100 * mine_frac / ratio:.0f}% (same FLOPs per update)"
            )
            if mine_frac >= 0.5:
                verdict += (
                    f": jaxrl is compute-bound at this size, so a {goal:g}× gap would need the "
                    f"peer below {100 * mine_frac / goal:.0f}% of the peak"
                )
        out.append((label, f"{ratio:.2f}×", verdict))

    if preset_name == "cpu" or preset_name == "tiny":
        for algo in ("iql", "td3bc"):
            ratio_target(
                f"CPU, 1 run: {algo} updates/s ≥ 5× d3rlpy",
                by(workload="learner", algo=algo, net=net, runs=1),
                by(workload="peer", peer="d3rlpy", algo=algo, net=net),
                "updates_per_s",
                5.0,
            )
        ratio_target(
            "CPU: online SAC env steps/s ≥ 1.5× brax.training SAC",
            by(workload="online"),
            by(workload="peer", peer="brax.training"),
            "env_steps_per_s",
            1.5,
        )
        for algo in ("iql", "td3bc", "cql", "calql", "sac", "awac", "rlpd"):
            one = by(workload="learner", algo=algo, net=net, runs=1)
            eight = by(workload="learner", algo=algo, net=net, runs=8)
            if one and eight:
                ratio = eight[0]["updates_per_s"] / one[0]["updates_per_s"]
                v = "met" if ratio >= 1.5 else f"missed by {1.5 / ratio:.2f}× ({ratio:.2f}×)"
                if ratio < 1.5:
                    v += (
                        f"; one run already reaches {100 * one[0]['peak_fraction']:.0f}% of the "
                        f"matmul peak, 8 runs {100 * eight[0]['peak_fraction']:.0f}%: a 1.5× gain "
                        "needs one run below 2/3 of what 8 runs achieve"
                    )
                out.append(
                    (f"CPU, 8 runs vmapped ≥ 1.5× 8 sequential runs: {algo}", f"{ratio:.2f}×", v)
                )
        comp = {r["algo"]: [] for r in by(workload="o2o_compile")}
        for r in by(workload="o2o_compile"):
            comp[r["algo"]].append(r)
        for algo, rs in comp.items():
            rs.sort(key=lambda r: r["runs"])
            worst = max(r["compile_s"] for r in rs)
            v = "met" if worst <= 60 else f"missed by {worst - 60:.0f} s"
            out.append(
                (f"compile of the {algo} offline→online program ≤ 60 s", f"{worst:.1f} s", v)
            )
            if len(rs) > 1:
                spread = max(r["compile_s"] for r in rs) / min(r["compile_s"] for r in rs) - 1
                label = f"{algo} compile flat from {rs[0]['runs']} to {rs[-1]['runs']} runs (≤ 20%)"
                v = "met" if spread <= 0.2 else f"missed: {100 * spread:.0f}% apart"
                out.append((label, f"{100 * spread:.0f}%", v))
    if preset_name == "gpu":
        for algo in ("iql", "sac", "rlpd"):
            one = by(workload="learner", algo=algo, net=net, runs=1)
            many = by(workload="learner", algo=algo, net=net, runs=64)
            if one and many:
                ratio = many[0]["updates_per_s"] / one[0]["updates_per_s"]
                v = "met" if ratio >= 30 else f"missed by {30 / ratio:.2f}× ({ratio:.1f}×)"
                out.append((f"GPU, 64 runs ≥ 30× 1 run: {algo}", f"{ratio:.1f}×", v))
        rl = by(workload="learner", algo="rlpd", net=net)
        if rl:
            best = max(rl, key=lambda r: r["peak_fraction"])
            f = best["peak_fraction"]
            if f <= 0:
                v = "not measured: no FLOPs counted"
            else:
                v = "met" if f >= 0.25 else f"missed by {0.25 / f:.1f}× ({100 * f:.1f}%)"
            out.append(
                (
                    f"GPU: 10-critic step ≥ 25% of matmul peak (best: {best['runs']} runs)",
                    f"{100 * f:.1f}%",
                    v,
                )
            )
    return out


def write_report(
    records: list[dict[str, Any]],
    info: dict[str, Any],
    command: str,
    preset_name: str,
    path: Path,
    notes: str = "",
    figure: str | None = None,
) -> str:
    """Writes the Markdown report and returns its text."""
    v = info["versions"]
    peer_versions = {
        r["peer"]: r.get("versions", {})
        for r in records
        if r["workload"] == "peer" and r.get("status") == "ok"
    }
    lines = [
        "# Benchmarks",
        "",
        "Generated by `experiments/benchmark.py`; do not edit the tables by hand.",
        "",
        f"- date: {info['date']}",
        f"- command: `{command}`",
        f"- machine: {info['cpu']}, {info['cores']} cores; device {info['device']}",
        f"- matmul peak (f32, {info.get('matmul_n', '?')}², the larger of the measurements "
        f"before and after the workloads: {info.get('peak_start', info['peak']) / 1e9:.1f} and "
        f"{info.get('peak_end', info['peak']) / 1e9:.1f}): {info['peak'] / 1e9:.1f} GFLOP/s",
        "- jaxrl environment: "
        + ", ".join(f"{k} {v[k]}" for k in ("jax", "jaxlib", "flax", "optax", "brax", "numpy")),
    ]
    for merged_command, added in info.get("merged", []):
        lines.append(f"- merged with a later run ({added} rows added): `{merged_command}`")
    if "flops_note" in info:
        lines.append(f"- {info['flops_note']}")
    if "load_start" in info:
        load = max(info["load_start"], info.get("load_end", 0.0))
        lines.append(
            f"- 1-minute load average at start / end: {info['load_start']:.1f} / "
            + (f"{info['load_end']:.1f}" if "load_end" in info else "not recorded")
            + (
                f" — **more than {info['cores']} cores' worth: the machine was shared, the "
                "timings and verdicts below are not representative**"
                if load > info["cores"]
                else ""
            )
        )
    for peer, pv in peer_versions.items():
        lines.append(f"- peer {peer}: " + ", ".join(f"{k} {x}" for k, x in pv.items()))
    lines += ["", "## Targets", ""]
    lines += markdown_table(
        ["target", "measured", "verdict"], [list(t) for t in verdicts(records, preset_name)]
    ).splitlines()
    lines += [
        "",
        "## Learner: a scan of K updates from a device dataset",
        "",
        "Updates/s count gradient steps (an RLPD step at UTD 20 counts 20). `× 1 run` is the "
        "total throughput over that of one run: the gain of vmapping N runs over running them "
        "one after another. `% of peak` is achieved FLOP/s over the matmul peak. `vs d3rlpy` "
        "is updates/s of one run over d3rlpy's at the same network and batch.",
        "",
    ]
    lines += learner_table(records)
    if figure:
        lines += ["", f"![throughput against runs]({figure})"]
    on = [r for r in records if r["workload"] in ("online", "o2o") and r["status"] == "ok"]
    brax = [r for r in records if r["workload"] == "peer" and r.get("peer") == "brax.training"]
    if on or brax:
        lines += ["", "## Online and offline→online steps", ""]
        rows = []
        for r in on:
            rows.append(
                [
                    r["workload"] + ": " + r["algo"],
                    f"envs {r.get('num_envs', 1)}, UTD {r['utd']}, batch {r['batch']}",
                    f"{r['compile_s']:.1f}",
                    _fmt(r["env_steps_per_s"]),
                    _fmt(r["updates_per_s"]),
                ]
            )
        for r in brax:
            if r.get("status") == "ok":
                rows.append(
                    [
                        "peer brax.training sac",
                        r.get("settings", ""),
                        _fmt(r.get("compile_s")),
                        _fmt(r["env_steps_per_s"]),
                        _fmt(r["updates_per_s"]),
                    ]
                )
            else:
                rows.append(["peer brax.training sac", r["status"], "", "", ""])
        lines += markdown_table(
            ["workload", "settings", "compile s", "env steps/s", "updates/s"], rows
        ).splitlines()
    comp = [r for r in records if r["workload"] == "o2o_compile" and r["status"] == "ok"]
    if comp:
        lines += ["", "## Compile time of the whole offline→online program", ""]
        rows = [
            [
                r["algo"],
                str(r["runs"]),
                f"{r['compile_s']:.1f}",
                ", ".join(f"{k} {x:.1f}" for k, x in r["compile_parts_s"].items()),
            ]
            for r in comp
        ]
        lines += markdown_table(["recipe", "runs", "compile s", "parts (s)"], rows).splitlines()
    envs = [r for r in records if r["workload"] in ("env", "buffer") and r["status"] == "ok"]
    if envs:
        lines += ["", "## Environment stepping and buffer in isolation", ""]
        rows = []
        for r in envs:
            if r["workload"] == "env":
                rows.append(
                    [
                        f"env.step halfcheetah ×{r['num_envs']}",
                        _fmt(r["env_steps_per_s"]) + " steps/s",
                    ]
                )
            else:
                rows.append(
                    [
                        f"buffer_{r['algo']} ({r['rows_per_call']} rows, "
                        f"capacity {r['capacity']:,})",
                        _fmt(r["calls_per_s"]) + " calls/s, " + _fmt(r["rows_per_s"]) + " rows/s",
                    ]
                )
        lines += markdown_table(["operation", "throughput"], rows).splitlines()
    peers = [r for r in records if r["workload"] == "peer"]
    if peers:
        lines += ["", "## Peers", ""]
        rows = []
        for r in peers:
            rows.append(
                [
                    f"{r['peer']} {r['algo']}",
                    r.get("status", "")[:120],
                    r.get("settings", "") if r.get("status") == "ok" else "",
                    _fmt(r.get("updates_per_s")),
                    _fmt(r.get("env_steps_per_s")),
                ]
            )
        lines += markdown_table(
            ["peer", "status", "settings", "updates/s", "env steps/s"], rows
        ).splitlines()
    if notes:
        lines += ["", "## Notes", "", notes.strip()]
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def plot_runs(records: list[dict[str, Any]], path: Path) -> bool:
    """Total updates/s against the number of runs, one line per learner row and network."""
    rows = [r for r in records if r["workload"] == "learner" and r["status"] == "ok"]
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        series.setdefault(f"{r['algo']} {r['net']}", []).append((r["runs"], r["updates_per_s"]))
    series = {k: sorted(v) for k, v in series.items() if len(v) > 1}
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for label, pts in series.items():
        x, y = zip(*pts, strict=True)
        ax.plot(x, y, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("runs vmapped in one program")
    ax.set_ylabel("total updates/s")
    ax.set_title("Learner throughput against the number of runs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
