"""Shared test settings: key-reuse checking on, and one XLA compilation cache per session
(per worker process under pytest-xdist)."""

import os
import tempfile

os.environ.setdefault("JAX_DEBUG_KEY_REUSE", "true")

import jax  # noqa: E402

# Identical programs built by different tests (the same env step, the same agent) compile once.
jax.config.update(
    "jax_compilation_cache_dir",
    os.environ.get("JAXRL_TEST_COMPILE_CACHE") or tempfile.mkdtemp(prefix="jaxrl-xla-"),
)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
