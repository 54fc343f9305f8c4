"""Losses, the multi-subnetwork train step, evaluation and the fine-tuning phases (original ``utils/forward.py``).

Joint loss ``L = sum_s alpha_s / sum(alpha) * CE_s`` with ``alpha_s = sqrt(P_s / P_full)`` (P = conv, depthwise
and dense kernel + bias parameters). Quirk Q1: the original applied ``optimizer.update_step`` per variable,
so ``iterations`` stayed 0: the learning-rate schedule never left its first value and Adam's bias correction
stayed at step 1. ``StepOneAdam`` reproduces that (default); ``--optimizer_fix`` uses a normal Adam with the
piecewise-constant schedule. Training is resumable: weights, optimizer slots and the epoch CSV are written
after every epoch.
"""

import csv
import json
import math
import time
import zlib
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import tensorflow as tf

keras = tf.keras
ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-7  # tf.keras Adam defaults, as in the original
BN_PHASE_LEARNING_RATE = 5e-4  # constant lr of the original's BN-only phase


def loss_weights(parameter_counts):
    """Normalised alpha_s = sqrt(P_s / P_full) / sum; ``parameter_counts[0]`` is the full model."""
    alphas = np.sqrt(np.asarray(parameter_counts, np.float64) / parameter_counts[0])
    return alphas / alphas.sum()


class StepOneAdam:
    """Adam whose step counter never advances (quirk Q1): m/v accumulate, bias correction stays at step 1."""

    def __init__(self, learning_rate):
        self.learning_rate = float(learning_rate)
        self.slots = {}

    def _slot(self, var):
        key = var.ref()
        if key not in self.slots:
            self.slots[key] = (tf.Variable(tf.zeros_like(var), trainable=False),
                               tf.Variable(tf.zeros_like(var), trainable=False))
        return self.slots[key]

    def build(self, variables):
        for var in variables:
            self._slot(var)

    def apply_gradients(self, grads_and_vars):
        for grad, var in grads_and_vars:
            if grad is None:
                continue
            m, v = self._slot(var)
            m.assign(ADAM_BETA_1 * m + (1 - ADAM_BETA_1) * grad)
            v.assign(ADAM_BETA_2 * v + (1 - ADAM_BETA_2) * tf.square(grad))
            m_hat = m / (1 - ADAM_BETA_1)
            v_hat = v / (1 - ADAM_BETA_2)
            var.assign_sub(self.learning_rate * m_hat / (tf.sqrt(v_hat) + ADAM_EPSILON))

    def state(self):
        return [t for pair in self.slots.values() for t in pair]


def make_optimizer(learning_rates, training_steps, optimizer_fix):
    """Faithful StepOneAdam at the first lr, or (fix) Adam with PiecewiseConstantDecay over the steps."""
    if not optimizer_fix:
        return StepOneAdam(learning_rates[0])
    boundaries = list(np.cumsum(training_steps[: len(learning_rates) - 1]))
    if len(learning_rates) == 1:
        return keras.optimizers.Adam(learning_rates[0])
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([int(b) for b in boundaries], list(learning_rates))
    return keras.optimizers.Adam(schedule)


def optimizer_variables(optimizer):
    if isinstance(optimizer, StepOneAdam):
        return optimizer.state()
    return list(optimizer.variables())


def batches(x, y, batch_size, shuffle_seed=None, augment=None):
    """Batches of (x, y) numpy arrays; a fixed order unless ``shuffle_seed`` (quirk Q23 keeps one order)."""
    order = np.arange(len(x)) if shuffle_seed is None else np.random.RandomState(shuffle_seed).permutation(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start : start + batch_size]
        xb = tf.constant(x[idx])
        if augment is not None:
            xb = augment(xb)
        yield xb, tf.constant(y[idx])


def augmentation_seed(*key):
    """A 31-bit seed from a key such as (run seed, phase name, epoch): the same draws after a resume."""
    return zlib.crc32(repr(key).encode()) & 0x7FFFFFFF


def training_batches(data, batch_size, shuffle_seed=None, augment=None, augment_key=None):
    """Training batches: from ``data[augment.source]`` when the augmentation reads another array (the KWS
    waveforms), else from ``data['train']``.

    ``augment_key`` (e.g. ``(seed, phase, epoch)``) reseeds the augmentation's random draws first, so a phase
    that is resumed, or that runs after skipped ones, sees the same augmented batches as in one go.
    """
    if augment is not None and augment_key is not None:
        if hasattr(augment, "reseed"):
            augment.reseed(augmentation_seed(*augment_key))
        else:  # the vision augmentation draws from TF's global generator
            tf.random.set_seed(augmentation_seed(*augment_key))
    return batches(*data[getattr(augment, "source", "train")], batch_size, shuffle_seed, augment)


def _predict_fn(model):
    """One traced inference function per model (re-creating it per call retraces every time)."""
    if getattr(model, "_reds_predict", None) is None:
        model._reds_predict = tf.function(lambda xb: model(xb, training=False), reduce_retracing=True)
    return model._reds_predict


def evaluate(reds_model, x, y, batch_size=256):
    """[(accuracy, loss)] per subnetwork (inference mode)."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    n = len(reds_model.plans)
    correct, losses = np.zeros(n), np.zeros(n)
    predict = _predict_fn(reds_model)
    for xb, yb in batches(x, y, batch_size):
        for s, logits in enumerate(predict(xb)):
            correct[s] += float(tf.reduce_sum(tf.cast(tf.argmax(logits, 1) == yb, tf.float32)))
            losses[s] += float(loss_fn(yb, logits))
    return [(correct[s] / len(x), losses[s] / len(x)) for s in range(n)]


class EpochLog:
    """Per-epoch CSV + resume point (weights, optimizer slots, epoch number) of one training phase."""

    def __init__(self, out_dir, phase):
        self.dir = Path(out_dir)
        self.phase = phase
        self.csv = self.dir / f"{phase}_history.csv"
        self.state = self.dir / f"{phase}_state.json"
        self.weights = self.dir / f"{phase}_last.weights.h5"
        self.slots = self.dir / f"{phase}_optimizer.npz"

    def resume(self, model, optimizer, variables, signature=None, log=print):
        """Epochs already done (0 = start fresh); restores weights and optimizer slots.

        ``signature`` (the subnetwork widths) must match the saved one: a folder left by a run with another
        configuration is not resumed but overwritten, with a warning.
        """
        if not self.state.is_file() or not self.weights.is_file():
            return 0
        saved = json.loads(self.state.read_text())
        if saved.get("signature") != signature:
            log(f"{self.phase}: {self.state} belongs to other subnetworks ({saved.get('signature')}); starting over")
            self.csv.unlink(missing_ok=True)
            return 0
        model.load_weights(str(self.weights))
        if isinstance(optimizer, StepOneAdam):
            optimizer.build(variables)
        if self.slots.is_file():
            saved_slots = np.load(self.slots)
            slots = optimizer_variables(optimizer)
            if len(saved_slots.files) == len(slots):
                for var, key in zip(slots, saved_slots.files):
                    var.assign(saved_slots[key])
        return int(saved["epoch"])

    def write(self, epoch, row, model, optimizer, signature=None):
        self.dir.mkdir(parents=True, exist_ok=True)
        new = not self.csv.is_file()
        with self.csv.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        model.save_weights(str(self.weights))
        np.savez(self.slots, *[v.numpy() for v in optimizer_variables(optimizer)])
        self.state.write_text(json.dumps({"epoch": epoch, "signature": signature}))


def train_joint(reds_model, variables, data, alphas, epochs, optimizer, batch_size, out_dir, phase, log,
                shuffle_each_epoch=False, augment=None, seed=0, labels=None):
    """Joint fine-tuning of every subnetwork; returns the per-subnetwork metrics of the last epoch.

    ``data``: {'train'|'validation'|'test': (x, y)}. Each epoch logs train loss and val/test accuracy of
    every subnetwork (``labels`` names them) to ``<phase>_history.csv``.
    """
    from tqdm import tqdm

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    alphas = tf.constant(alphas, tf.float32)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            logits = reds_model(xb, training=True)
            losses = tf.stack([loss_fn(yb, out) for out in logits])
            total = tf.reduce_sum(alphas * losses)
        grads = tape.gradient(total, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return losses

    epoch_log = EpochLog(out_dir, phase)
    if isinstance(optimizer, StepOneAdam):
        optimizer.build(variables)
    signature = [{k: int(v) for k, v in w.items()} for w in reds_model.subnet_widths]
    start_epoch = epoch_log.resume(reds_model.base, optimizer, variables, signature, log)
    if start_epoch:
        log(f"{phase}: resuming after epoch {start_epoch}")
    steps = math.ceil(len(data["train"][0]) / batch_size)
    last = None
    for epoch in range(start_epoch + 1, epochs + 1):
        t0 = time.perf_counter()
        seed_e = seed + epoch if shuffle_each_epoch else seed
        totals = np.zeros(len(reds_model.plans))
        for xb, yb in tqdm(training_batches(data, batch_size, seed_e, augment, (seed, phase, epoch)), total=steps,
                           desc=f"{phase} {epoch}/{epochs}", leave=False, unit="batch"):
            totals += step(xb, yb).numpy()
        val = evaluate(reds_model, *data["validation"])
        test = val if data["test"] is data["validation"] else evaluate(reds_model, *data["test"])
        row = {"epoch": epoch, "seconds": round(time.perf_counter() - t0, 2)}
        for s, name in enumerate(labels or range(len(totals))):
            row[f"train_loss_{name}"] = round(totals[s] / steps, 5)
            row[f"val_acc_{name}"] = round(val[s][0], 5)
            row[f"test_acc_{name}"] = round(test[s][0], 5)
        epoch_log.write(epoch, row, reds_model.base, optimizer, signature)
        log(f"{phase} epoch {epoch}/{epochs}: " + ", ".join(
            f"{name} test {test[s][0]:.4f}" for s, name in enumerate(labels or range(len(totals)))))
        last = {"validation": val, "test": test}
    if last is None:  # already finished before a resume
        val = evaluate(reds_model, *data["validation"])
        last = {"validation": val, "test": val if data["test"] is data["validation"] else evaluate(reds_model, *data["test"])}
    return last


def plain_accuracy(model, x, y, batch_size=256):
    predict = _predict_fn(model)
    correct = 0
    for xb, yb in batches(x, y, batch_size):
        correct += int(tf.reduce_sum(tf.cast(tf.argmax(predict(xb), 1) == yb, tf.int32)))
    return correct / len(x)


def train_plain(model, data, epochs, learning_rate, batch_size, log, trainable=None, stop_accuracy=None,
                stop_split="test", augment=None, seed=0, desc="train"):
    """Train a plain Keras model (pretraining, scratch baseline, head fine-tuning).

    ``trainable``: variables to update (default all trainable); ``stop_accuracy``: stop once ``stop_split``
    accuracy reaches it (the original's head phase stops on *test* accuracy, quirk Q13).
    """
    from tqdm import tqdm

    optimizer = keras.optimizers.Adam(learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    variables = trainable if trainable is not None else model.trainable_variables

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    steps = math.ceil(len(data["train"][0]) / batch_size)
    accuracy = plain_accuracy(model, *data[stop_split])
    for epoch in range(1, epochs + 1):
        if stop_accuracy is not None and accuracy >= stop_accuracy:
            log(f"{desc}: {stop_split} accuracy {accuracy:.4f} >= {stop_accuracy:.4f}, stopping before epoch {epoch}")
            break
        epoch_batches = training_batches(data, batch_size, seed + epoch, augment, (seed, desc, epoch))
        losses = [float(step(xb, yb)) for xb, yb in tqdm(epoch_batches, total=steps, desc=f"{desc} {epoch}/{epochs}",
                                                         leave=False)]
        accuracy = plain_accuracy(model, *data[stop_split])
        log(f"{desc} epoch {epoch}/{epochs}: loss {np.mean(losses):.4f}, {stop_split} accuracy {accuracy:.4f}")
    return accuracy


def recalibrate_batch_norm(model, x, batch_size=256):
    """Set every BN layer's moving mean/variance to the population statistics of its input on ``x``.

    Only used after *our* pretraining (which stands in for the ARM / shipped checkpoints): on short mini-data
    runs the 0.99-momentum moving averages are still near their initial values. Layers are recalibrated in
    order, so each one sees the already-recalibrated layers before it.
    """
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        probe = keras.Model(model.inputs, layer.input)
        axes = tuple(range(len(layer.input_shape) - 1))
        count, total, total_sq = 0, 0.0, 0.0
        for start in range(0, len(x), batch_size):
            h = probe(x[start : start + batch_size], training=False).numpy().astype(np.float64)
            count += int(np.prod([h.shape[a] for a in axes]))
            total = total + h.sum(axis=axes)
            total_sq = total_sq + np.square(h).sum(axis=axes)
        mean = total / count
        variance = np.maximum(total_sq / count - np.square(mean), 0.0)
        gamma, beta, _, _ = layer.get_weights()
        layer.set_weights([gamma, beta, mean.astype(np.float32), variance.astype(np.float32)])
