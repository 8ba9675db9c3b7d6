"""Package data of the pretrained zoo: ``registry.yaml`` and the bundled weights.

``registry.yaml`` is the one source of truth for pretrained entries (read by ``symzoo.hub``);
``<name>.safetensors`` / ``<name>.json`` / ``<name>.reference.safetensors`` are the bundled files,
written by ``scripts/build_zoo.py``.  Nothing is imported from here.
"""
