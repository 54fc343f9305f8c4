"""Script shim: ``python train.py ...`` (or ``torchrun ... train.py``) runs ``python -m dero.train``."""

from dero.train import cli

if __name__ == "__main__":
    cli()
