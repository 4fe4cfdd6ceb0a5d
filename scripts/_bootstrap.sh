# Sourced by scripts/demo, scripts/test and .ci/run: make `uv` available on a machine that has
# only Python 3.11 and pip. Installs uv with pip when it is missing (user site first, then the
# interpreter's own site; Debian's system Python needs --break-system-packages for --user).
# shellcheck shell=bash

xs_python() {
  local py
  for py in python3.11 python3 python; do
    if command -v "$py" >/dev/null 2>&1; then echo "$py"; return 0; fi
  done
  echo "xueshi: Python 3.11 is required (python3.11 or python3 on PATH)" >&2
  return 1
}

# Sets UV, the command to run uv with: "${UV[@]}" sync …
xs_bootstrap_uv() {
  UV=(uv)
  if command -v uv >/dev/null 2>&1; then return 0; fi
  local py
  py="$(xs_python)"
  export PATH="$HOME/.local/bin:$PATH"
  if ! "$py" -m uv --version >/dev/null 2>&1; then
    echo "xueshi: installing uv with pip …" >&2
    "$py" -m pip install --quiet --user uv 2>/dev/null \
      || "$py" -m pip install --quiet --user --break-system-packages uv 2>/dev/null \
      || "$py" -m pip install --quiet uv
  fi
  if ! command -v uv >/dev/null 2>&1; then
    # The uv binary is in a scripts folder that is not on PATH: call it through Python.
    UV=("$py" -m uv)
  fi
}
