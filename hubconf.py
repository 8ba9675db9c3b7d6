dependencies = ["torch", "safetensors"]  # torch.hub.load(repo, "egnn.nbody-charged"): verified zoo weights
from symzoo.hub import hub_entrypoints  # noqa: E402

globals().update(hub_entrypoints())
