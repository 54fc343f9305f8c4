"""Losses, the multi-subnetwork train step, evaluation and the fine-tuning phases (original ``utils/forward.py``).

Joint loss ``L = sum_s alpha_s / sum(alpha) * CE_s`` with ``alpha_s = sqrt(P_s / P_full)`` (P = conv, depthwise
and dense kernel + bias parameters). Quirk Q1: the original applied ``optimizer.update_step`` per variable,
so ``iterations`` stayed 0: the learning-rate schedule never left its first value and Adam's bias correction
stayed at step 1. ``StepOneAdam`` reproduces that (default); ``--optimizer_fix`` uses a normal Adam with the
piecewise-constant schedule. Training is resumable: after every epoch one resume file (weights, optimizer
variables, epochs done) is replaced atomically and the epoch's row is added to the phase's CSV.
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
        augment.reseed(augmentation_seed(*augment_key))
    return batches(*data[getattr(augment, "source", "train")], batch_size, shuffle_seed, augment)


EVAL_BATCH_SIZE = 1000  # inference batch: large enough that per-batch overhead is small, small enough for memory


def _eval_fn(model):
    """One traced function per model: per-output (correct count, summed cross-entropy) of a batch."""
    if getattr(model, "_reds_predict", None) is None:
        def counts(xb, yb):
            outputs = model(xb, training=False)
            outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
            return [(tf.reduce_sum(tf.cast(tf.argmax(o, 1) == yb, tf.int64)),
                     tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(yb, o))) for o in outputs]

        model._reds_predict = tf.function(counts, reduce_retracing=True)
    return model._reds_predict


def _eval_sums(model, x, y, batch_size):
    fn = _eval_fn(model)
    sums = None
    for start in range(0, len(x), batch_size):
        labels = np.asarray(y[start : start + batch_size], np.int64)
        batch = fn(tf.constant(x[start : start + batch_size]), tf.constant(labels))
        sums = batch if sums is None else [(c + bc, loss + bl) for (c, loss), (bc, bl) in zip(sums, batch)]
    return [(int(c), float(loss)) for c, loss in sums]


def evaluate(reds_model, x, y, batch_size=EVAL_BATCH_SIZE):
    """[(accuracy, mean loss)] per subnetwork (inference mode)."""
    return [(c / len(x), loss / len(x)) for c, loss in _eval_sums(reds_model, x, y, batch_size)]


RESUME_GROUP = "reds_resume"  # HDF5 group beside the Keras weights in a resume file (Keras' loader ignores it)


class PhaseCheckpoint:
    """Resume point and epoch history of one training phase.

    After every epoch, ``<phase>_history.csv`` gets the epoch's row, then ``<phase>_resume.h5`` is replaced
    atomically by one file holding the model weights, the optimizer variables, the number of epochs done and a
    signature (the subnetwork widths). A failed or interrupted write leaves the previous resume point intact; on
    resume the history is cut back to the epochs the resume point holds.
    """

    def __init__(self, out_dir, phase):
        self.dir = Path(out_dir)
        self.phase = phase
        self.csv = self.dir / f"{phase}_history.csv"
        self.path = self.dir / f"{phase}_resume.h5"

    def resume(self, model, optimizer, variables, signature=None, log=print):
        """Epochs already done (0 = start fresh); restores the weights and optimizer variables.

        ``signature`` must match the saved one; a resume point of other subnetworks is not used (with a warning).
        """
        import h5py
        import run_contract as rc

        if not self.path.is_file():
            self._trim_history(0)
            return 0
        try:
            with h5py.File(self.path, "r") as f:
                group = f[RESUME_GROUP]
                epochs_done = int(group.attrs["epochs_done"])
                saved_signature = json.loads(group.attrs["signature"])
                saved = [group["optimizer"][k][()] for k in sorted(group["optimizer"])]
        except (OSError, KeyError, ValueError) as err:
            raise rc.bad_file(self.path, f"unusable resume point ({type(err).__name__}: {err})",
                              "delete it to restart this phase, or rerun with --overwrite") from err
        if saved_signature != signature:
            log(f"{self.phase}: {self.path} belongs to other subnetworks ({saved_signature}); starting over")
            self._trim_history(0)
            return 0
        model.load_weights(str(self.path))
        build_optimizer(optimizer, variables)
        slots = optimizer_variables(optimizer)
        if [tuple(v.shape) for v in slots] != [tuple(np.shape(v)) for v in saved]:
            raise rc.bad_file(self.path, "its optimizer state does not fit this phase's optimizer",
                              "delete it to restart this phase, or rerun with --overwrite")
        for var, value in zip(slots, saved):
            var.assign(value)
        self._trim_history(epochs_done)
        return epochs_done

    def _history(self):
        if not self.csv.is_file():
            return []
        with self.csv.open(newline="") as f:
            return list(csv.DictReader(f))

    def _trim_history(self, epochs_done):
        rows = self._history()
        if len(rows) > epochs_done:
            import run_contract as rc

            rc.write_csv(self.csv, rows[:epochs_done], fieldnames=list(rows[0]))

    def save(self, epoch, row, model, optimizer, signature=None):
        import h5py
        import run_contract as rc

        self.dir.mkdir(parents=True, exist_ok=True)
        rows = self._history()[: epoch - 1] + [row]
        rc.write_csv(self.csv, rows, fieldnames=list(row))
        with rc.atomic_path(self.path) as tmp:
            model.save_weights(str(tmp))
            with h5py.File(tmp, "a") as f:
                group = f.create_group(RESUME_GROUP)
                group.attrs["epochs_done"] = int(epoch)
                group.attrs["signature"] = json.dumps(signature)
                slots = group.create_group("optimizer")
                for i, var in enumerate(optimizer_variables(optimizer)):
                    slots.create_dataset(f"{i:04d}", data=var.numpy())


def build_optimizer(optimizer, variables):
    """Create the optimizer's variables for ``variables`` (before a restore or the first traced step)."""
    if isinstance(optimizer, StepOneAdam):
        optimizer.build(variables)
    elif not optimizer.variables() or len(optimizer.variables()) == 1:
        optimizer.build(variables)


def train_joint(reds_model, variables, data, alphas, epochs, optimizer, batch_size, out_dir, phase, log,
                shuffle_each_epoch=False, augment=None, seed=0, labels=None, eval_every=1, on_epoch_start=None):
    """Joint fine-tuning of every subnetwork; returns the per-subnetwork metrics of the last epoch.

    ``data``: {'train'|'validation'|'test': (x, y)}. Each epoch logs train loss and (every ``eval_every``
    epochs and at the last) val/test accuracy of every subnetwork (``labels`` names them) to
    ``<phase>_history.csv``. ``on_epoch_start(epoch)`` runs before each epoch (and before the final evaluation of
    a phase finished earlier), after any resume.
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

    checkpoint = PhaseCheckpoint(out_dir, phase)
    build_optimizer(optimizer, variables)
    signature = [{k: int(v) for k, v in w.items()} for w in reds_model.subnet_widths]
    start_epoch = checkpoint.resume(reds_model.base, optimizer, variables, signature, log)
    if start_epoch:
        log(f"{phase}: resuming after epoch {start_epoch}")
    steps = math.ceil(len(data["train"][0]) / batch_size)
    last = None
    for epoch in range(start_epoch + 1, epochs + 1):
        t0 = time.perf_counter()
        if on_epoch_start is not None:
            on_epoch_start(epoch)
        seed_e = seed + epoch if shuffle_each_epoch else seed
        totals = np.zeros(len(reds_model.plans))
        for xb, yb in tqdm(training_batches(data, batch_size, seed_e, augment, (seed, phase, epoch)), total=steps,
                           desc=f"{phase} {epoch}/{epochs}", leave=False, unit="batch"):
            totals += step(xb, yb).numpy()
        names = labels or range(len(totals))
        row = {"epoch": epoch}
        if epoch % eval_every == 0 or epoch == epochs:
            val = evaluate(reds_model, *data["validation"])
            test = val if data["test"] is data["validation"] else evaluate(reds_model, *data["test"])
            last = {"validation": val, "test": test}
            log(f"{phase} epoch {epoch}/{epochs}: " + ", ".join(
                f"{name} test {test[s][0]:.4f}" for s, name in enumerate(names)))
        else:
            val = test = [("", None)] * len(totals)
            log(f"{phase} epoch {epoch}/{epochs}: train loss " + ", ".join(
                f"{name} {totals[s] / steps:.4f}" for s, name in enumerate(names)))
        row["seconds"] = round(time.perf_counter() - t0, 2)
        for s, name in enumerate(names):
            row[f"train_loss_{name}"] = round(totals[s] / steps, 5)
            row[f"val_acc_{name}"] = val[s][0] if val[s][0] == "" else round(val[s][0], 5)
            row[f"test_acc_{name}"] = test[s][0] if test[s][0] == "" else round(test[s][0], 5)
        checkpoint.save(epoch, row, reds_model.base, optimizer, signature)
    if last is None:  # already finished before a resume
        if on_epoch_start is not None:
            on_epoch_start(epochs + 1)
        val = evaluate(reds_model, *data["validation"])
        last = {"validation": val, "test": val if data["test"] is data["validation"] else evaluate(reds_model, *data["test"])}
    return last


def plain_accuracy(model, x, y, batch_size=EVAL_BATCH_SIZE):
    return _eval_sums(model, x, y, batch_size)[0][0] / len(x)


def train_plain(model, data, epochs, learning_rate, batch_size, log, trainable=None, stop_accuracy=None,
                stop_split="test", augment=None, seed=0, desc="train", checkpoint=None):
    """Train a plain Keras model (pretraining, scratch baseline, head fine-tuning); returns the last accuracy.

    ``trainable``: variables to update (default all trainable); ``stop_accuracy``: stop once ``stop_split``
    accuracy reaches it (the original's head phase stops on *test* accuracy, quirk Q13). ``checkpoint`` (a
    ``PhaseCheckpoint``): resume from it and update it after every epoch.
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

    start_epoch = 0
    if checkpoint is not None:
        start_epoch = checkpoint.resume(model, optimizer, variables, desc, log)
        if start_epoch:
            log(f"{desc}: resuming after epoch {start_epoch}")
    steps = math.ceil(len(data["train"][0]) / batch_size)
    accuracy = plain_accuracy(model, *data[stop_split])
    for epoch in range(start_epoch + 1, epochs + 1):
        if stop_accuracy is not None and accuracy >= stop_accuracy:
            log(f"{desc}: {stop_split} accuracy {accuracy:.4f} >= {stop_accuracy:.4f}, stopping before epoch {epoch}")
            break
        start = time.perf_counter()
        epoch_batches = training_batches(data, batch_size, seed + epoch, augment, (seed, desc, epoch))
        losses = [float(step(xb, yb)) for xb, yb in tqdm(epoch_batches, total=steps, desc=f"{desc} {epoch}/{epochs}",
                                                         leave=False)]
        accuracy = plain_accuracy(model, *data[stop_split])
        log(f"{desc} epoch {epoch}/{epochs}: loss {np.mean(losses):.4f}, {stop_split} accuracy {accuracy:.4f}")
        if checkpoint is not None:
            row = {"epoch": epoch, "seconds": round(time.perf_counter() - start, 2), "loss": round(np.mean(losses), 5),
                   f"{stop_split}_accuracy": round(accuracy, 5)}
            checkpoint.save(epoch, row, model, optimizer, desc)
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
