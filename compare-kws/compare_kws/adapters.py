"""Two small workarounds that let REDS and T-RECX start from the MLPerf DS-CNN (requests to reds/ and trecx/ are in
README.md). Each is active only inside a ``with`` block around the subproject's own command.

- ``reds_mlperf_front_end()``: reds' ``--front_end mlperf`` computes mlperf_tiny's MFCCs of clips scaled by 1/32768,
  but mlperf_tiny (and so the base) divides each clip by its maximum sample first; that moves MFCC 0 by
  sqrt(40) log(32768 / max) per clip. Inside the block reds' MFCC function gets that division, so REDS fine-tunes
  and is evaluated on the base's features.
- ``trecx_from_base(base)``: trecx's ``train_dscnn`` builds its model from the registry and trains it from scratch
  (its ``--init_from_base`` does what this block does, for a base file). Inside the block the registry's
  ``ds_cnn_ev`` comes with the base's backbone, and its final classifier (pooled 64 features + 32 early-view
  features) starts as the base's classifier with zero weights on the 32 early-view inputs, so before training
  its final exit computes exactly the base's output; the EE head starts from Keras' initializers, as in trecx.
"""

import contextlib
from unittest import mock

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

BASE_HINT = "the base must be the MLPerf Tiny KWS DS-CNN (mlperf_tiny's ds_cnn / ds_cnn_full_pool)"


def max_normalised(mfcc):
    """``mfcc`` applied to each waveform divided by its maximum sample (mlperf_tiny's evaluation preprocessing)."""

    def features(waveform, *args, **kwargs):
        import tensorflow as tf

        waveform = tf.convert_to_tensor(waveform, tf.float32)
        peak = tf.maximum(tf.reduce_max(waveform, axis=-1, keepdims=True), 1e-12)
        return mfcc(waveform / peak, *args, **kwargs)

    return features


@contextlib.contextmanager
def reds_mlperf_front_end():
    from reds.utils import datasets

    with mock.patch.object(datasets, "mlperf_mfcc", max_normalised(datasets.mlperf_mfcc)):
        yield


def init_early_exit_from_base(model, base):
    """Copy the base DS-CNN into a freshly built ``ds_cnn_ev`` (``trecx.early_exit.init_from_base``); returns it."""
    from trecx import early_exit

    try:
        return early_exit.init_from_base(model, base, hint=f"; {BASE_HINT}")
    except ValueError as err:
        raise rc.UsageError(str(err)) from None


@contextlib.contextmanager
def trecx_from_base(base):
    from mlperf_tiny import registry

    build = registry.get_model

    def get_model(name, **kwargs):
        model = build(name, **kwargs)
        return init_early_exit_from_base(model, base) if name == "ds_cnn_ev" else model

    with mock.patch.object(registry, "get_model", get_model):
        yield
