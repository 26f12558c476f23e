"""Timing, FLOP and memory counts of compiled programs, and the machine they ran on.

Compile time is the ahead-of-time `lower().compile()` time; steady-state time is the median of
`reps` timed calls after a warm-up call, each ended by `block_until_ready`. FLOPs come from
XLA's cost analysis (which counts a loop body once: see `Agent.update_utd`'s `unroll`),
device bytes from its memory analysis; the peak is a timed large f32 matmul on the device.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxrl.bench import measure
    >>> f = jax.jit(lambda x: x @ x)
    >>> x = jnp.ones((64, 64))
    >>> compiled, seconds = measure.aot_compile(f, x)
    >>> measure.cost_flops(compiled) > 0
    True
    >>> _, median_s, times = measure.time_calls(compiled, x, reps=3)
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def cost_flops(program) -> float:
    """FLOPs that XLA's cost analysis counts for a lowered or compiled program (0 if none)."""
    ca = program.cost_analysis()
    if isinstance(ca, (list, tuple)):
        ca = ca[0] if ca else {}
    return float((ca or {}).get("flops", 0.0))


def lowered_flops(lowered) -> float:
    """FLOPs of a lowered program: XLA's analysis of the unoptimised HLO, or, where the backend
    gives none for it (the CUDA backend, seen on an H200 with jax 0.11.2), of the compiled one."""
    flops = cost_flops(lowered)
    return flops if flops > 0 else cost_flops(lowered.compile())


def memory_bytes(compiled) -> int:
    """Device bytes the program holds at once: arguments + outputs + temporaries − aliased;
    -1 where the backend reports no memory analysis."""
    try:
        m = compiled.memory_analysis()
        return int(
            m.argument_size_in_bytes
            + m.output_size_in_bytes
            + m.temp_size_in_bytes
            - m.alias_size_in_bytes
        )
    except Exception:  # noqa: BLE001 - not every backend reports it
        return -1


def rss_mb() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def aot_compile(fn, *args) -> tuple[Any, float]:
    """(compiled, seconds to trace, lower and compile) of a jitted `fn` at `args`."""
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    return compiled, time.perf_counter() - t0


def time_calls(call: Callable, state, reps: int) -> tuple[Any, float, list[float]]:
    """One warm-up call, then `reps` timed ones; the state is threaded (it may be donated).

    Returns:
      (the last state, the median seconds of a call, every timed call's seconds).
    """
    state = jax.block_until_ready(call(state))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        state = jax.block_until_ready(call(state))
        times.append(time.perf_counter() - t0)
    return state, statistics.median(times), times


def matmul_peak(n: int, reps: int = 5) -> float:
    """FLOP/s of a square f32 matmul of side `n` (8 chained products per call, best call)."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32) / np.sqrt(n)

    @jax.jit
    def chain(x):
        return jax.lax.fori_loop(0, 8, lambda _, y: y @ a, x)

    _, _, times = time_calls(lambda _: chain(a), None, reps)
    return 8 * 2 * n**3 / min(times)


def machine_info() -> dict[str, Any]:
    """CPU model, core count, the first JAX device, Python and library versions."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in ("jax", "jaxlib", "flax", "optax", "brax", "numpy"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            versions[mod] = "missing"
    dev = jax.devices()[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "device": f"{dev.platform}: {getattr(dev, 'device_kind', dev)}",
        "python": platform.python_version(),
        "versions": versions,
    }
