"""Running peer libraries (d3rlpy, brax.training) from their own virtual environments.

A peer is measured by a script run with the peer venv's Python, outside this process (the
peers pin their own jax or torch); the script takes one JSON argument and prints its record
as the last JSON line of stdout. The scripts and the `setup.sh` that builds the venvs are
the caller's (jaxrl's are in experiments/peers/); the venvs live in `PEERS_DIR`
(``$PEERS_DIR``, default ``~/.cache/jaxrl/peers``), one folder per peer with a ``.ready`` file.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jaxrl.bench.presets import D3RLPY_ALGOS, Preset

PEERS_DIR = Path(os.environ.get("PEERS_DIR", Path.home() / ".cache/jaxrl/peers"))


def peer_python(name: str, peers_dir: Path | None = None) -> Path | None:
    """The Python of peer venv `name`, or None if it is not built (or not finished)."""
    root = (peers_dir or PEERS_DIR) / name
    py = root / "bin" / "python"
    return py if (root / ".ready").exists() and py.exists() else None


def ensure_peers(
    names: Sequence[str], setup_script: Path, peers_dir: Path | None = None
) -> dict[str, str]:
    """Creates missing peer venvs with `setup_script`; returns name -> why it is unavailable."""
    peers_dir = peers_dir or PEERS_DIR
    missing = [n for n in names if peer_python(n, peers_dir) is None]
    problems = {}
    if missing:
        print(f"[benchmark] creating peer environments {missing} (once) ...", flush=True)
        proc = subprocess.run(
            ["bash", str(setup_script), *missing],
            capture_output=True,
            text=True,
            env={**os.environ, "PEERS_DIR": str(peers_dir)},
        )
        for n in missing:
            if peer_python(n, peers_dir) is None:
                tail = [ln for ln in (proc.stderr or "").splitlines() if "WARNING" not in ln]
                problems[n] = "install failed: " + (" | ".join(tail[-2:]) or "see setup.sh")
    return problems


def run_peer(
    venv: str, script: Path, args: dict[str, Any], timeout: float, peers_dir: Path | None = None
) -> dict[str, Any]:
    """Runs a peer script in its venv, without this process's JAX/XLA settings or path; its
    last stdout line that starts with "{" is the record."""
    py = peer_python(venv, peers_dir)
    if py is None:
        return {"status": f"not available: peer venv {venv!r} missing ({peers_dir or PEERS_DIR})"}
    cmd = [str(py), str(script), json.dumps(args)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    env["PYTHONPATH"] = ""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"status": f"failed: timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = [ln for ln in proc.stderr.splitlines() if ln.strip()][-3:]
        return {"status": f"failed (rc {proc.returncode}): " + " | ".join(err)}
    return {"status": "ok", **json.loads(lines[-1])}


def d3rlpy_record(
    name: str, preset: Preset, dims: tuple[int, ...], net: str, scripts: Path
) -> dict[str, Any]:
    """d3rlpy's `D3RLPY_ALGOS[name]` at the preset's batch, timed by scripts/d3rlpy_peer.py."""
    args = {
        "algo": D3RLPY_ALGOS[name],
        "hidden": list(dims),
        "batch": preset.batch,
        "steps": preset.peer_steps,
        "rows": min(preset.dataset_rows, 100_000),
        "obs_dim": 17,
        "action_dim": 6,
    }
    rec = run_peer("d3rlpy", scripts / "d3rlpy_peer.py", args, timeout=600)
    return {"workload": "peer", "peer": "d3rlpy", "algo": name, "net": net, "runs": 1, **rec}


def brax_record(preset: Preset, scripts: Path) -> dict[str, Any]:
    """brax.training SAC on halfcheetah at the online workload's sizes
    (scripts/brax_sac_peer.py)."""
    args = {
        "env": "halfcheetah",
        "backend": "positional",
        "num_envs": preset.online_envs,
        "utd": preset.online_utd,
        "batch": preset.batch,
        "hidden": list(next(iter(preset.nets.values()))),
        "num_timesteps": preset.brax_timesteps,
        "max_replay_size": preset.online_steps * (preset.reps + 2),
    }
    rec = run_peer("brax", scripts / "brax_sac_peer.py", args, timeout=900)
    net = next(iter(preset.nets))
    return {"workload": "peer", "peer": "brax.training", "algo": "sac", "net": net, **rec}
