import json

import pytest
import torch

from symzoo.cli import main

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_train_on_gpu_auto_device(tmp_path):
    out = tmp_path / "gpu"
    assert (
        main(
            [
                "train",
                "nbody-charged",
                "egnn",
                "--preset",
                "tiny",
                "--out",
                str(out),
                "--quiet",
                "trainer.max_epochs=2",
            ]
        )
        == 0
    )
    assert json.loads((out / "eval.json").read_text())["device"].startswith("cuda")
