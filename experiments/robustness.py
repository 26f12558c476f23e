r"""Two experiments of the robust-data papers: docs/ROBUSTNESS.md.

    python experiments/robustness.py --preset cpu            # both parts, about 40 min on 2 cores
    python experiments/robustness.py --preset cpu --parts corruption
    python experiments/robustness.py --preset cpu --notes experiments/robustness_notes.md

1. **Corruption** (RIQL, Yang et al. 2023): IQL and RIQL trained offline on copies of a dataset
   whose observations, actions, rewards and next observations are all corrupted ("mixed", as in
   RIQL's headline table), each kind on its own `rate` share of the rows, at scale ε = 1 (in
   units of the field's std), by random noise and by the adversarial attack, as the rate grows.
   The adversarial attack needs a critic and a policy: those of the clean-data IQL job (run 0),
   where RIQL's `attack.py` uses an EDAC agent trained on the clean data.
2. **Weighting** (Hong et al. 2023, "Beyond uniform sampling"): IQL and TD3+BC trained offline
   on an imbalanced mix, the whole random dataset plus a few expert episodes, with uniform
   sampling against return-weighted (RW) and advantage-weighted (AW) trajectory sampling.

Every job is a `jaxrl.run.run` job started from the algorithm's config file
(`experiments/configs/<algo>.py`) with the preset's seeds, steps and width (as
`experiments/results.py` does), offline only. The derived datasets are written once as
HDF5 under `<data_dir>/derived/<preset>/` (`JAXRL_DATA`, default
`~/.cache/jaxrl/datasets`) and keep the source's reference returns, so scores stay normalized
against the same random and expert policies. A job whose `summary.json` exists is not rerun
(the command resumes); `--fresh` reruns everything.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from experiments.results import job_config  # noqa: E402
from jaxrl import report  # noqa: E402
from jaxrl.jobs import Budget, run_job  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Plan:
    """What each part runs.

    Attributes:
      preset: seeds, offline steps, width and evaluation of every job (online steps unused).
      rates: corruption rates (share of rows per kind) of part 1; 0 (clean) is always run.
      mix_episodes: part 2's dataset is all of `mix_base` plus the first `mix_episodes`
        episodes of `mix_extra`.
      samplers: part 2's offline samplers.
      dataset: the clean dataset corrupted in part 1.
      modes: corruption modes of part 1.
      scale: ε of part 1.
      mix_base, mix_extra: the two datasets of part 2's mixture.
    """

    preset: Budget
    rates: tuple[float, ...]
    mix_episodes: int
    samplers: tuple[str, ...]
    dataset: str = "halfcheetah-medium-v0"
    modes: tuple[str, ...] = ("random", "adversarial")
    scale: float = 1.0
    mix_base: str = "halfcheetah-random-v0"
    mix_extra: str = "halfcheetah-expert-v0"


PLANS = {
    "cpu": Plan(
        Budget((0, 1, 2, 3), 5_000, 0, 128, 5_000, 10, 0), (0.1, 0.3), 5, ("uniform", "rw", "aw")
    ),
    "tiny": Plan(Budget((0, 1), 60, 0, 16, 60, 1, 0), (0.3,), 2, ("uniform", "rw")),
    "gpu": Plan(
        Budget(tuple(range(8)), 100_000, 0, 256, 10_000, 10, 0),
        (0.1, 0.2, 0.3, 0.5),
        5,
        ("uniform", "rw", "aw", "topk"),
    ),
}
CORRUPTION_ALGOS = ("iql", "riql")
WEIGHTING_ALGOS = ("iql", "td3bc")
#: RIQL's "mixed" corruption: every kind, each on its own rows.
MIXED = ("obs", "action", "reward", "dynamics")


def derived_dir(preset: str) -> Path:
    """Where a preset's derived datasets go (the adversarial attack depends on the preset)."""
    from jaxrl.data.io import data_dir

    return data_dir() / "derived" / preset


def load_suite(name: str):
    """A suite dataset by name (generated with the "cpu" preset if missing)."""
    from jaxrl.data import generate, suite
    from jaxrl.envs import make_env

    generate.generate(name, preset="cpu")
    env = make_env(generate.parse_name(name)[0])
    return suite.load(name, "cpu", spec=env.spec), env


def offline_job(algo: str, dataset: str, preset: Budget, task: str, **fields):
    """An offline-only job from `algo`'s config file under `preset`, with `fields` replaced."""
    config = job_config(algo, dataset, preset, task)
    return dataclasses.replace(config, online_steps=0, **fields)


def clean_critic(workdir: Path):
    """`(q_fn, policy_fn, spec)` of run 0 of a finished IQL job: min over its critics, and its
    deterministic policy, both for one raw observation (the attacker of `corrupt`)."""
    import jax
    import jax.numpy as jnp

    from jaxrl.checkpoint import CheckpointError, load_states
    from jaxrl.networks import QEnsemble

    try:
        loaded = load_states(workdir)
    except CheckpointError as err:
        raise RuntimeError(f"{err}; rerun with --fresh") from err
    if loaded.config.normalize_obs:
        raise ValueError(f"{workdir}: the attacker must see raw observations (normalize_obs)")
    state = jax.tree.map(lambda x: x[0], loaded.states.agent)
    cfg = loaded.config.agent_config()
    critic = QEnsemble(cfg.num_critics, cfg.hidden_dims, cfg.layer_norm)
    key = jax.random.key(0)

    def q_fn(obs, action):
        return jnp.min(critic.apply(state.params["critic"], obs[None], action[None]))

    def policy_fn(obs):
        return loaded.agent.act(state, obs, key, True)

    return q_fn, policy_fn, loaded.env.spec


def corrupted_dataset(plan: Plan, preset: str, mode: str, rate: float, attacker) -> str:
    """Path of the `mode` corruption of `plan.dataset` at `rate` (written once)."""
    from jaxrl.data.corruption import corrupt
    from jaxrl.data.io import save_hdf5

    name = f"{plan.dataset.removesuffix('-v0')}-mixed-{mode}-r{rate:g}-e{plan.scale:g}.hdf5"
    path = derived_dir(preset) / name
    if path.exists():
        return str(path)
    ds, env = load_suite(plan.dataset)
    extra = {}
    if mode == "adversarial":
        q_fn, policy_fn, spec = attacker()
        extra = dict(q_fn=q_fn, policy_fn=policy_fn, spec=spec)
    t0 = time.time()
    bad, _ = corrupt(ds, MIXED, rate=rate, scale=plan.scale, seed=0, mode=mode, **extra)
    bad.metadata["name"] = path.stem
    save_hdf5(bad, path)
    print(f"  wrote {path} ({time.time() - t0:.0f} s)", flush=True)
    return str(path)


def mixed_dataset(plan: Plan, preset: str) -> str:
    """Path of `mix_base` plus the first `mix_episodes` episodes of `mix_extra` (written once)."""
    from jaxrl.data import concatenate, first_episodes, save_hdf5

    base_kind = plan.mix_base.removesuffix("-v0")
    path = (
        derived_dir(preset) / f"{base_kind}+{plan.mix_episodes}{plan.mix_extra.split('-')[1]}.hdf5"
    )
    if path.exists():
        return str(path)
    base, env = load_suite(plan.mix_base)
    extra = first_episodes(load_suite(plan.mix_extra)[0], plan.mix_episodes)
    meta = dict(base.metadata)
    meta.update(
        name=path.stem,
        mixture=f"all of {plan.mix_base} ({base.size} rows) + the first {plan.mix_episodes} "
        f"episodes of {plan.mix_extra} ({extra.size} rows)",
    )
    for k in ("sha256", "file", "data_normalized_score", "data_return_mean", "episodes", "size"):
        meta.pop(k, None)
    ds = concatenate([base, extra], spec=env.spec, metadata=meta)
    save_hdf5(ds, path)
    print(f"  wrote {path} ({ds.size} rows)", flush=True)
    return str(path)


def corruption_part(plan: Plan, preset: str, workdir: Path, fresh: bool) -> str:
    task = plan.dataset.split("-")[0]
    clean = {}
    for algo in CORRUPTION_ALGOS:
        cfg = offline_job(algo, plan.dataset, plan.preset, task)
        clean[algo] = run_job(cfg, workdir / "clean" / algo, fresh)
    attacker = lambda: clean_critic(workdir / "clean" / "iql")  # noqa: E731
    results: dict[tuple[str, float], dict[str, dict]] = {}
    for mode in plan.modes:
        for rate in plan.rates:
            path = corrupted_dataset(plan, preset, mode, rate, attacker)
            for algo in CORRUPTION_ALGOS:
                cfg = offline_job(algo, path, plan.preset, task)
                sub = workdir / f"{mode}-r{rate:g}" / algo
                results.setdefault((mode, rate), {})[algo] = run_job(cfg, sub, fresh)
    cols = ["clean"] + [f"{m} {r:g}" for m in plan.modes for r in plan.rates]
    cells = [
        [algo, report.final_cell(clean[algo])]
        + [report.final_cell(results[(m, r)][algo]) for m in plan.modes for r in plan.rates]
        for algo in CORRUPTION_ALGOS
    ]
    verdicts = []
    for m in plan.modes:
        for r in plan.rates:
            iql, riql = (report.final_scores(results[(m, r)][a]) for a in CORRUPTION_ALGOS)
            verdicts.append(f"{m} {r:g}: RIQL − IQL = {np.mean(riql) - np.mean(iql):+.1f}")
    return (
        f"Dataset {plan.dataset}, mixed corruption (obs, action, reward, dynamics; each kind on "
        f"its own share `rate` of the rows), scale ε = {plan.scale:g}. Cells: IQM [95% CI] "
        "(mean ± std) of the normalized score after offline training.\n\n"
        + report.markdown_table(["algorithm", *cols], cells)
        + "\nDifference of means: "
        + "; ".join(verdicts)
        + ".\n"
    )


def weighting_part(plan: Plan, preset: str, workdir: Path, fresh: bool) -> str:
    path = mixed_dataset(plan, preset)
    task = plan.mix_base.split("-")[0]
    results: dict[str, dict[str, dict]] = {}
    for algo in WEIGHTING_ALGOS:
        for sampler in plan.samplers:
            cfg = offline_job(algo, path, plan.preset, task, sampler=sampler)
            results.setdefault(algo, {})[sampler] = run_job(
                cfg, workdir / "weighting" / f"{algo}-{sampler}", fresh
            )
    cells = [
        [algo] + [report.final_cell(results[algo][s]) for s in plan.samplers]
        for algo in WEIGHTING_ALGOS
    ]
    return (
        f"Dataset: all of {plan.mix_base} plus the first {plan.mix_episodes} episodes of "
        f"{plan.mix_extra} (`{Path(path).name}`). Cells: IQM [95% CI] (mean ± std) of the "
        "normalized score after offline training; sampler temperature 0.1 (the reference's).\n\n"
        + report.markdown_table(["algorithm", *plan.samplers], cells)
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu", choices=sorted(PLANS))
    parser.add_argument("--parts", default="corruption,weighting")
    parser.add_argument("--workdir", default=str(ROOT / "runs" / "robustness"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "ROBUSTNESS.md"))
    parser.add_argument("--fresh", action="store_true", help="rerun jobs that already finished")
    parser.add_argument("--notes", default="", help="markdown file inserted after the header")
    args = parser.parse_args(argv)

    from jaxrl.run import enable_compilation_cache

    enable_compilation_cache()
    plan = PLANS[args.preset]
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - {"corruption", "weighting"})
    if unknown:
        sys.exit(f"unknown part(s) {unknown}; choose from corruption, weighting")
    workdir = Path(args.workdir) / args.preset
    command = "python experiments/robustness.py " + " ".join(sys.argv[1:] if argv is None else argv)
    sections = []
    if "corruption" in parts:
        sections.append(
            "## RIQL against IQL under corruption\n\n"
            + corruption_part(plan, args.preset, workdir, args.fresh)
        )
    if "weighting" in parts:
        sections.append(
            "## Weighted against uniform sampling\n\n"
            + weighting_part(plan, args.preset, workdir, args.fresh)
        )
    p = plan.preset
    header = (
        "# Robustness: corrupted data and imbalanced data\n\n"
        f"Produced by {report.produced_by(command)}. Every job: seeds {p.seeds}, "
        f"{p.offline_steps} offline gradient steps, no online phase, {p.width}-unit "
        f"hidden layers, {p.eval_episodes} evaluation episodes per seed. Scores are "
        "normalized (0 = random policy, 100 = the dataset suite's expert).\n\n"
    )
    if args.notes:
        header += Path(args.notes).read_text().rstrip() + "\n\n"
    text = header + "\n".join(sections)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
