"""Fast tests of the offline mini datasets: small copies are generated into tmp_path and read back with
the recipes the real loaders use (CIFAR unpickling, idx headers, WAV headers, JPEG decoding)."""

import gzip
import hashlib
import json
import pickle
import re
import struct
import subprocess
import sys
import wave

import numpy as np
import pytest
from mlperf_tiny.mini_data import cifar10, fashion_mnist, generate, imagenet, speech_commands, toycar, visual_wake_words
from mlperf_tiny.mini_data.generate import generate_all, generate_dataset
from PIL import Image

SMALL_SPEECH = {"clips_per_keyword": 6, "clips_per_auxiliary_word": 6, "words": speech_commands.KEYWORDS +
                ["bed", "marvin"], "max_speakers": 6}
SPEECH_NAME_RE = re.compile(r"^[0-9a-f]{8}_nohash_\d+\.wav$")
TOYCAR_NAME_RE = re.compile(r"^(normal|anomaly)_id_(\d{2})_(\d{8})\.wav$")


def read_wav(path):
    with wave.open(str(path), "rb") as wav:
        params = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
        return params, np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def tree_digest(root):
    """sha256 over every file's relative path and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def speech_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("speech")
    speech_commands.generate(root, seed=0, show_progress=False, **SMALL_SPEECH)
    return root


# ---------------------------------------------------------------- Speech Commands
def test_speech_commands_wavs_are_one_second_16k_mono_int16_and_not_silent(speech_root):
    wavs = sorted((speech_root / "speech_commands").glob("*/*.wav"))
    words = {p.parent.name for p in wavs} - {"_background_noise_"}
    assert words == set(SMALL_SPEECH["words"])
    clips = [p for p in wavs if p.parent.name != "_background_noise_"]
    assert len(clips) == 10 * 6 + 2 * 6
    for path in clips:
        assert SPEECH_NAME_RE.match(path.name), path.name
        params, samples = read_wav(path)
        assert params == (1, 2, 16000)
        assert samples.shape == (16000,)
        # the word peaks at -12..-1 dBFS (sox gain -n); -20 dBFS is a safe floor
        assert np.abs(samples).max() > 32768 * 10 ** (-20 / 20), path


def test_speech_commands_split_lists_reference_files_and_split_by_speaker(speech_root):
    sc = speech_root / "speech_commands"
    lists = {name: (sc / f"{name}_list.txt").read_text().splitlines() for name in ("validation", "testing")}
    all_clips = {str(p.relative_to(sc)) for p in sc.glob("*/*.wav") if p.parent.name != "_background_noise_"}
    for name, relpaths in lists.items():
        assert relpaths, name
        assert set(relpaths) <= all_clips, name
    assert not set(lists["validation"]) & set(lists["testing"])
    speakers = {name: {p.split("/")[1].split("_")[0] for p in relpaths} for name, relpaths in lists.items()}
    train_speakers = {p.split("/")[1].split("_")[0] for p in all_clips - set(lists["validation"]) - set(lists["testing"])}
    assert not speakers["validation"] & speakers["testing"]
    assert not (speakers["validation"] | speakers["testing"]) & train_speakers
    # 6 speakers, 10% (at least one) each for validation and testing
    assert len(speakers["validation"]) == len(speakers["testing"]) == 1 and len(train_speakers) == 4


def test_speech_commands_background_noise_and_test_archive(speech_root):
    noise_dir = speech_root / "speech_commands" / "_background_noise_"
    durations = {}
    for path in noise_dir.glob("*.wav"):
        params, samples = read_wav(path)
        assert params == (1, 2, 16000)
        assert samples.std() > 100, path  # real noise, not silence
        durations[path.name] = len(samples) / 16000
    assert "running_tap.wav" in durations  # tfds puts it into the validation split
    assert all(10 <= seconds <= 60 for seconds in durations.values()), durations
    test_dir = speech_root / "speech_commands_test_set_v0.02"
    counts = {d.name: len(list(d.glob("*.wav"))) for d in test_dir.iterdir()}
    assert set(counts) == set(speech_commands.KEYWORDS) | {"_silence_", "_unknown_"}
    assert len(set(counts.values())) == 1 and counts["yes"] >= 1  # balanced
    testing = set((speech_root / "speech_commands" / "testing_list.txt").read_text().splitlines())
    for word in speech_commands.KEYWORDS:
        assert {f"{word}/{p.name}" for p in (test_dir / word).glob("*.wav")} <= testing
    for path in (test_dir / "_silence_").glob("*.wav"):
        assert read_wav(path)[1].shape == (16000,)


def test_speech_commands_is_deterministic(speech_root, tmp_path):
    speech_commands.generate(tmp_path, seed=0, show_progress=False, **SMALL_SPEECH)
    first, second = speech_root / "speech_commands", tmp_path / "speech_commands"
    files = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(second)) for p in second.rglob("*") if p.is_file())
    for name in ("validation_list.txt", "testing_list.txt"):
        assert (first / name).read_text() == (second / name).read_text()
    # espeak-ng and sox (-R) are deterministic too, so even the audio bytes repeat
    assert tree_digest(speech_root) == tree_digest(tmp_path)


def test_missing_espeak_names_the_install_command(tmp_path, monkeypatch, capsys):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    with pytest.raises(speech_commands.MissingToolError, match=r"make apt.*apt-get install -y espeak-ng sox"):
        speech_commands.generate(tmp_path / "out", show_progress=False, **SMALL_SPEECH)
    assert generate.main(["--out", str(tmp_path / "cli"), "--datasets", "speech_commands", "--no-progress"]) == 1
    assert "error: espeak-ng and sox not found" in capsys.readouterr().err


# ---------------------------------------------------------------- CIFAR-10
def test_cifar10_pickles_load_with_the_standard_recipes(tmp_path):
    cifar10.generate(tmp_path, seed=0, train_per_batch=40, n_train_batches=5, n_test=100, show_progress=False)
    root = tmp_path / "cifar-10-batches-py"
    labels = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(root / name, "rb") as f:  # the recipe on the CIFAR page / keras load_batch
            batch = pickle.load(f, encoding="bytes")
        assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
        n = 100 if name == "test_batch" else 40
        assert batch[b"data"].shape == (n, 3072) and batch[b"data"].dtype == np.uint8
        assert len(batch[b"labels"]) == len(batch[b"filenames"]) == n
        labels.append(batch[b"labels"])
        with open(root / name, "rb") as f:  # torchvision.datasets.CIFAR10
            assert np.array_equal(pickle.load(f, encoding="latin1")["data"], batch[b"data"])
    assert set(np.concatenate(labels[:5])) == set(labels[5]) == set(range(10))
    with open(root / "batches.meta", "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    assert meta["label_names"] == cifar10.LABEL_NAMES and meta["num_vis"] == 3072
    raw = (root / "data_batch_1").read_bytes()
    # Python 2 str opcodes and the numpy 1.x global, as in the original files
    assert raw[:2] == b"\x80\x02" and b"U\x04data" in raw and b"numpy.core.multiarray\n_reconstruct" in raw


def test_cifar10_rows_are_channel_planar():
    glyphs = np.random.default_rng(1).random((3, 8, 8)).astype(np.float32)
    labels = np.array([0, 1, 2])

    class NoBar:
        def update(self, n):
            pass

    data, _ = cifar10._make_split(glyphs, labels, 2, np.random.default_rng(5), NoBar())
    rng = np.random.default_rng(5)
    picks = rng.integers(0, 3, size=2)
    first = cifar10.render_image(glyphs[picks[0]], rng)  # HWC
    assert np.array_equal(data[0, :1024], first[:, :, 0].ravel())
    assert np.array_equal(data[0, 2048:], first[:, :, 2].ravel())


# ---------------------------------------------------------------- Fashion-MNIST
def test_fashion_mnist_idx_headers_parse(tmp_path):
    fashion_mnist.generate(tmp_path, seed=0, n_train=300, n_test=100, show_progress=False)
    root = tmp_path / "fashion_mnist"
    for prefix, n in (("train", 300), ("t10k", 100)):
        images = gzip.decompress((root / f"{prefix}-images-idx3-ubyte.gz").read_bytes())
        labels = gzip.decompress((root / f"{prefix}-labels-idx1-ubyte.gz").read_bytes())
        assert struct.unpack(">IIII", images[:16]) == (2051, n, 28, 28)
        assert struct.unpack(">II", labels[:8]) == (2049, n)
        assert len(images) == 16 + n * 28 * 28 and len(labels) == 8 + n
        pixels = np.frombuffer(images[16:], np.uint8).reshape(n, 28, 28)
        assert pixels.max() >= 170 and np.median(pixels) < 20  # bright object on black
        assert set(np.frombuffer(labels[8:], np.uint8)) == set(range(10))


# ---------------------------------------------------------------- VWW and ImageNet
def test_vww_jpegs_are_96x96_rgb_and_validation_holds_out_whole_patches(tmp_path):
    visual_wake_words.generate(tmp_path, seed=0, images_per_class=40, augs_per_patch=2, show_progress=False)
    for class_name in ("person", "non_person"):
        paths = sorted((tmp_path / "vw_coco2014_96" / class_name).glob("*.jpg"))
        assert len(paths) == 40
        for path in paths:
            with Image.open(path) as image:
                assert image.format == "JPEG" and image.mode == "RGB" and image.size == (96, 96)
        n_val = len(paths) // 10  # the MLPerf loader's validation_split=0.1 on sorted names
        val_groups = {p.name.split("_")[0] for p in paths[:n_val] if "_lfw" in p.name}
        train_groups = {p.name.split("_")[0] for p in paths[n_val:] if "_lfw" in p.name}
        assert not (val_groups - {paths[n_val - 1].name.split("_")[0]}) & train_groups


def test_imagenet_imagefolder_layout(tmp_path):
    imagenet.generate(tmp_path, seed=0, train_per_class=3, val_per_class=2, show_progress=False)
    root = tmp_path / "imagenet"
    wnids = [line.split("\t")[0] for line in (root / "classes.txt").read_text().splitlines()[1:]]
    assert len(wnids) == 10 and all(re.fullmatch(r"n\d{8}", w) for w in wnids)
    for split, n in (("train", 3), ("val", 2)):
        assert sorted(d.name for d in (root / split).iterdir()) == sorted(wnids)
        for wnid in wnids:
            paths = list((root / split / wnid).glob("*.JPEG"))
            assert len(paths) == n
            with Image.open(paths[0]) as image:
                assert image.size == (64, 64) and image.mode == "RGB"


# ---------------------------------------------------------------- ToyCar
def test_toycar_names_and_wavs(tmp_path):
    toycar.generate(tmp_path, seed=0, machine_ids=(1, 3), train_per_id=2, test_normal_per_id=1,
                    test_anomaly_per_id=3, show_progress=False)
    root = tmp_path / "ToyCar"
    parsed = {split: [TOYCAR_NAME_RE.match(p.name).groups() for p in sorted((root / split).iterdir())]
              for split in ("train", "test")}
    assert {(label, mid) for label, mid, _ in parsed["train"]} == {("normal", "01"), ("normal", "03")}
    assert sorted(parsed["test"]).count(("anomaly", "03", "00000002")) == 1
    assert len(parsed["train"]) == 4 and len(parsed["test"]) == 8
    params, samples = read_wav(root / "train" / "normal_id_01_00000000.wav")
    assert params == (1, 2, 16000)
    # >= 250 frames of a 512-hop spectrogram: the AD features keep frames 50..249
    assert len(samples) == 160000 and 1 + len(samples) // 512 >= 250
    assert 0.4 < np.abs(samples).max() / 32768 < 0.6


def test_toycar_anomalies_change_the_spectrum():
    rng = np.random.default_rng(0)
    profile = toycar.machine_profile(rng)

    def log_spectrum(clip):
        return np.log(np.abs(np.fft.rfft(clip[:16000 * 8].reshape(8, 16000), axis=1)).mean(0) + 1e-6)

    normals = np.stack([log_spectrum(toycar.synthesize_clip(profile, rng)) for _ in range(4)])
    centre = normals.mean(0)
    normal_distance = max(np.abs(n - centre).mean() for n in normals)
    for kind in toycar.ANOMALY_KINDS:
        assert np.abs(log_spectrum(toycar.synthesize_clip(profile, rng, kind)) - centre).mean() > normal_distance


# ---------------------------------------------------------------- orchestration
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    small = {"train_per_batch": 20, "n_train_batches": 2, "n_test": 20, "show_progress": False}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        cifar10.generate(tmp_path / name, seed=seed, **small)
        visual_wake_words.generate(tmp_path / name, seed=seed, images_per_class=6, show_progress=False)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "c")


def test_generate_dataset_skips_when_stamped_and_recovers_from_interruption(tmp_path, monkeypatch):
    small = {"n_train": 50, "n_test": 20}
    assert generate_dataset(tmp_path, "fashion_mnist", seed=0, show_progress=False, **small)
    stamp = json.loads((tmp_path / ".stamps" / "fashion_mnist.json").read_text())
    assert stamp["seed"] == 0 and stamp["sizes"] == small
    assert not generate_dataset(tmp_path, "fashion_mnist", seed=0, show_progress=False, **small)
    assert generate_dataset(tmp_path, "fashion_mnist", seed=1, show_progress=False, **small)

    def interrupted(out_root, **kwargs):
        (out_root / "fashion_mnist").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(fashion_mnist, "generate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(tmp_path, "fashion_mnist", seed=2, show_progress=False, **small)
    # the finished seed-1 data is still in place and still stamped as seed 1
    assert json.loads((tmp_path / ".stamps" / "fashion_mnist.json").read_text())["seed"] == 1
    assert (tmp_path / "fashion_mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    monkeypatch.undo()
    assert generate_dataset(tmp_path, "fashion_mnist", seed=2, show_progress=False, **small)
    assert not (tmp_path / ".partial-fashion_mnist").exists()


def test_generate_all_writes_complete_stamp_last(tmp_path):
    generate_all(tmp_path, seed=0, datasets=["fashion_mnist"], show_progress=False,
                 sizes={"fashion_mnist": {"n_train": 20, "n_test": 20}})
    assert not (tmp_path / ".complete").exists()  # only once every dataset is there
    assert "mini-data numbers" in (tmp_path / "README.md").read_text()
    with pytest.raises(ValueError, match="unknown mini datasets"):
        generate_all(tmp_path, datasets=["cifar100"])


def test_mini_data_imports_neither_tensorflow_nor_torch():
    code = ("import sys, mlperf_tiny.mini_data; "
            "print(sorted(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
