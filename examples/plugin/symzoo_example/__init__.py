"""An example symzoo plugin (``pip install -e examples/plugin``): one equivariant model,
``example-radial`` (:func:`symzoo_example.models.radial_net`), and one task, ``example-charged-4``
(:func:`symzoo_example.tasks.charged_4`), registered through the entry point groups
``symzoo.models`` and ``symzoo.tasks`` of ``pyproject.toml``.

Keep this module light: symzoo imports the entry points' modules when it fills its registries.
"""

__version__ = "0.1.0"
