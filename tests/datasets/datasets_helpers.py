import numpy as np


def write_npz(path, samples=20, n=5, nan=False):
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(samples, n, 3))
    if nan:
        pos[3, 1, 2] = np.nan
    np.savez(
        path,
        pos=pos,
        vel=rng.normal(size=(samples, n, 3)),
        attr=rng.choice([-1.0, 1.0], size=(samples, n)),
        y=pos + 0.1,
    )
    return path
