import os
import tempfile

# Caches (simulated data) go to a per-session folder unless SYMZOO_HOME is set (the Makefile sets
# it to .symzoo_home so that local re-runs reuse generated data).
os.environ.setdefault("SYMZOO_HOME", tempfile.mkdtemp(prefix="symzoo-test-home-"))
os.environ.setdefault("PYTHONHASHSEED", "0")
# One intra-op thread: the test models are tiny, and on a shared 2-core machine several threads per
# process (and the subprocesses of the resume/DDP tests) oversubscribe the cores badly.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(autouse=True)
def _seed_and_dtype():
    torch.manual_seed(0)
    old = torch.get_default_dtype()
    yield
    torch.set_default_dtype(old)
