"""The floor every layer may import: small helpers that know no model, dataset or task.

- :mod:`~visionstack.utils.dist`: rank, world size, barrier, gathers and reductions that also work
  in a single process (setting the process group up is the engine's).
- :mod:`~visionstack.utils.checkpoint_io`: the one checkpoint reader (safe ``weights_only`` loading,
  the state dict inside, the ``module.`` prefix).
- :mod:`~visionstack.utils.image_io`: the one image decoder (NumPy + OpenCV, no PyTorch).
- :mod:`~visionstack.utils.suggest`: the one "did you mean" helper of every lookup error.
- :mod:`~visionstack.utils.numpy_ops`: NumPy forms of the tensor ops torch-free post-processing needs.
- :mod:`~visionstack.utils.lazy`: packages whose names load on first use.

Modules here import nothing from the rest of the package (``tests/test_layers.py`` checks it);
importing ``visionstack.utils`` itself loads nothing (import the module you need:
``from visionstack.utils.lazy import lazy_attributes``).
"""
