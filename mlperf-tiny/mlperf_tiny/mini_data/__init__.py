"""Offline mini datasets in the real on-disk formats (`make mini-data`).

``python -m mlperf_tiny.mini_data --out data/mini --seed 0`` or ``generate_all(root, seed=0)`` writes
Speech Commands v0.02 (+ its test archive), CIFAR-10 pickles, VWW JPEG folders, DCASE ToyCar WAVs,
Fashion-MNIST idx files and an ImageNet-style ImageFolder, each from its own module here. Only numpy,
scipy, PIL, scikit-learn, scikit-image and the espeak-ng/sox programs are used, so any subproject can
generate the data without TensorFlow or PyTorch.
"""

from .generate import DATASETS, generate_all, generate_dataset

__all__ = ["DATASETS", "generate_all", "generate_dataset"]
