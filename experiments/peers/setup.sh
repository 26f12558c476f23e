#!/usr/bin/env bash
# Creates the peers' virtual environments (never touching jaxrl's own environment):
#   $PEERS_DIR/d3rlpy : torch (CPU) + d3rlpy, for the offline peers
#   $PEERS_DIR/brax   : an older jax + brax whose brax.training SAC runs, for the online peer
#   $PEERS_DIR/torch  : torch (CPU) + numpy + tqdm, for experiments/parity.py's PyTorch references
#   $PEERS_DIR/jax    : jax 0.4.30 + flax 0.8.5 + optax + tfp + distrax, for its JAX references
# PEERS_DIR defaults to ~/.cache/jaxrl/peers. Idempotent: a venv whose marker file exists is kept.
# Usage: bash experiments/peers/setup.sh [d3rlpy] [brax] [torch] [jax]
set -u
PEERS_DIR="${PEERS_DIR:-$HOME/.cache/jaxrl/peers}"
PY="${PEERS_PYTHON:-python3}"
mkdir -p "$PEERS_DIR"
which=("$@")
[ ${#which[@]} -eq 0 ] && which=(d3rlpy brax)

TORCH_VERSION="${PEERS_TORCH:-2.13.0}"
D3RLPY_VERSION="${PEERS_D3RLPY:-2.8.1}"
BRAX_JAX="${PEERS_BRAX_JAX:-0.4.30}"
BRAX_VERSION="${PEERS_BRAX:-0.10.5}"

make_venv() {
  local dir="$PEERS_DIR/$1"
  if [ -f "$dir/.ready" ]; then echo "peers: $1 ready at $dir"; return 0; fi
  rm -rf "$dir"
  "$PY" -m venv "$dir" || return 1
  "$dir/bin/python" -m pip install -q --upgrade pip wheel >/dev/null 2>&1
}

for name in "${which[@]}"; do
  case "$name" in
    d3rlpy)
      dir="$PEERS_DIR/d3rlpy"
      if [ ! -f "$dir/.ready" ]; then
        make_venv d3rlpy || { echo "peers: venv d3rlpy failed" >&2; continue; }
        # torch first (a CPU wheel pinned exactly, so no multi-GB CUDA build is pulled), then
        # d3rlpy; gym/gymnasium are d3rlpy imports, the rest are its light dependencies.
        "$dir/bin/pip" install -q "torch==$TORCH_VERSION" \
          && "$dir/bin/pip" install -q "d3rlpy==$D3RLPY_VERSION" "torch==$TORCH_VERSION" \
          && "$dir/bin/python" -c "import d3rlpy, torch" \
          && touch "$dir/.ready" && echo "peers: d3rlpy ready at $dir" \
          || echo "peers: d3rlpy install failed" >&2
      fi ;;
    brax)
      dir="$PEERS_DIR/brax"
      if [ ! -f "$dir/.ready" ]; then
        make_venv brax || { echo "peers: venv brax failed" >&2; continue; }
        # Pinned to a mutually compatible 2024 set so the resolver does not drift to a newer jax.
        "$dir/bin/pip" install -q "jax==$BRAX_JAX" "jaxlib==$BRAX_JAX" "brax==$BRAX_VERSION" \
          "flax==0.8.5" "optax==0.2.3" "chex==0.1.86" "orbax-checkpoint==0.5.20" \
          "mujoco==3.1.6" "mujoco-mjx==3.1.6" "jaxopt==0.8.3" "numpy<2" "scipy<1.14" \
          && "$dir/bin/python" -c "import brax.training.agents.sac.train" \
          && touch "$dir/.ready" && echo "peers: brax ready at $dir" \
          || echo "peers: brax install failed" >&2
      fi ;;
    torch)
      dir="$PEERS_DIR/torch"
      if [ ! -f "$dir/.ready" ]; then
        make_venv torch || { echo "peers: venv torch failed" >&2; continue; }
        "$dir/bin/pip" install -q "torch==$TORCH_VERSION" "numpy" "tqdm" \
          && "$dir/bin/python" -c "import torch, numpy" \
          && touch "$dir/.ready" && echo "peers: torch ready at $dir" \
          || echo "peers: torch install failed" >&2
      fi ;;
    jax)
      dir="$PEERS_DIR/jax"
      if [ ! -f "$dir/.ready" ]; then
        make_venv jax || { echo "peers: venv jax failed" >&2; continue; }
        # The JAX references pin jax 0.4.1 / flax 0.6.1 (CORL) or jax >= 0.2.27 (IQL); no
        # jaxlib older than 0.4.13 exists for Python 3.11, so the oldest mutually compatible
        # 2024 set (the brax peer's) stands in; docs/PARITY.md lists the compatibility shims.
        "$dir/bin/pip" install -q "jax==$BRAX_JAX" "jaxlib==$BRAX_JAX" "flax==0.8.5" \
          "optax==0.2.3" "chex==0.1.86" "distrax==0.1.5" "tensorflow-probability==0.24.0" \
          "numpy<2" "scipy<1.14" "ml_collections" "absl-py" \
          && "$dir/bin/python" -c "import flax, optax, distrax, tensorflow_probability.substrates.jax" \
          && touch "$dir/.ready" && echo "peers: jax ready at $dir" \
          || echo "peers: jax install failed" >&2
      fi ;;
    *) echo "peers: unknown peer $name (allowed: d3rlpy brax torch jax)" >&2 ;;
  esac
done
