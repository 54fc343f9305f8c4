"""DERO (Deep Reorganization: Retaining Residuals in TinyML, DAC 2024) in PyTorch.

Modules keep the original repository's names: ``train`` (torchvision classification recipe),
``presets``, ``transforms``, ``utils``, ``sampler``, ``dero`` (the DERO tool) and ``models``.
Importing the package does nothing beyond defining them.
"""

__version__ = "1.0.0"
