"""Shared test settings: key-reuse checking on, and one XLA compilation cache per session
(per worker process under pytest-xdist)."""

import os
import tempfile

# Forced, not defaulted: an environment that sets it to false must not silently turn off the
# checks that tests rely on (tests/ops/test_keys.py shows the checker fires).
os.environ["JAX_DEBUG_KEY_REUSE"] = "true"

import jax  # noqa: E402

jax.config.update("jax_debug_key_reuse", True)

# Identical programs built by different tests (the same env step, the same agent) compile once.
jax.config.update(
    "jax_compilation_cache_dir",
    os.environ.get("JAXRL_TEST_COMPILE_CACHE") or tempfile.mkdtemp(prefix="jaxrl-xla-"),
)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
