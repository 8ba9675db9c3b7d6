#!/usr/bin/env bash
# Installs symzoo with every domain's extra ([all]: atoms, robotics, flows, forecasting,
# hamiltonian, hub, cluster, docs) and the test tools ([test]) into a virtual environment (default .venv): what
# `make install`, `make demo`, `make test` and .ci/run use.  A user who wants one domain installs the
# core and its extra instead (`pip install 'symzoo[atoms]'`, see docs/getting-started.md).
# torch is pinned first (a CPU wheel on these machines); gfortran is installed when missing
# because escnn's py3nj dependency compiles Fortran.
set -euo pipefail
VENV=${1:-.venv}
if ! command -v gfortran >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install: gfortran missing, installing it with apt-get (needed by escnn's py3nj)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gfortran >/dev/null
  else
    echo "install: gfortran is missing and cannot be installed automatically; install a Fortran compiler" >&2
    exit 1
  fi
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip wheel setuptools
"$VENV/bin/python" -m pip install -q torch==2.13.0
"$VENV/bin/python" -m pip install -q -e ".[all,test]"
"$VENV/bin/python" -c "import symzoo, escnn, e3nn, torch_geometric, lightning, ase, mujoco, mkdocs; print('install: symzoo', symzoo.__version__, 'ready')"
