"""Download and unpack the real MLPerf Tiny datasets: checksummed, resumable, with a clear offline error.

    python -m mlperf_tiny.download speech_commands --data_dir data
    python -m mlperf_tiny.download toycar --data_dir data

Files are fetched into ``<data_dir>/downloads/`` (a ``.part`` file grows until complete, so an interrupted
download resumes with an HTTP Range request), checked against the published sha256/md5 and unpacked into
``<data_dir>/<dataset folder>``. A ``.complete`` stamp in the target folder makes the second call a no-op.
"""

import hashlib
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import run_contract as rc


@dataclass(frozen=True)
class RemoteFile:
    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None  # bytes, for the progress bar and a quick sanity check


@dataclass(frozen=True)
class Dataset:
    """A dataset: the archives to fetch and where each one is unpacked (relative to data_dir)."""

    name: str
    make_target: str  # the make target that downloads it, named in error messages
    files: tuple  # of (RemoteFile, extract_to relative to data_dir)
    layout: str  # one line describing the expected on-disk layout after extraction


# Checksums: tfds' url_checksums for Speech Commands, torchvision's for CIFAR-10. Zenodo publishes md5s for the
# ToyADMOS archives on the record page, but they are not pinned here yet: those files are hashed on download and
# the sha256 is printed so it can be pinned (see README).
DATASETS = {
    "speech_commands": Dataset(
        name="speech_commands",
        make_target="mlperf-kws-data",
        files=(
            (
                RemoteFile(
                    "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
                    "speech_commands_v0.02.tar.gz",
                    sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
                    size=2428923189,
                ),
                "speech_commands",
            ),
            (
                RemoteFile(
                    "http://download.tensorflow.org/data/speech_commands_test_set_v0.02.tar.gz",
                    "speech_commands_test_set_v0.02.tar.gz",
                    sha256="cc2a00c1147c2254e9be3fa0f779d8c17421dc349b86366567a8edfa9acd51df",
                    size=112563277,
                ),
                "speech_commands_test_set_v0.02",
            ),
        ),
        layout=(
            "speech_commands/<word>/*.wav (16 kHz mono), speech_commands/{validation_list,testing_list}.txt, "
            "speech_commands/_background_noise_/*.wav and speech_commands_test_set_v0.02/<label>/*.wav "
            "(labels include _silence_ and _unknown_)"
        ),
    ),
    "toycar": Dataset(
        name="toycar",
        make_target="mlperf-ad-data",
        files=(
            (RemoteFile("https://zenodo.org/record/3678171/files/dev_data_ToyCar.zip?download=1", "dev_data_ToyCar.zip"), "dev_data"),
            (
                RemoteFile(
                    "https://zenodo.org/record/3727685/files/eval_data_train_ToyCar.zip?download=1",
                    "eval_data_train_ToyCar.zip",
                ),
                "dev_data",
            ),
        ),
        layout="dev_data/ToyCar/train/normal_id_XX_*.wav and dev_data/ToyCar/test/{normal,anomaly}_id_XX_*.wav",
    ),
    "cifar10": Dataset(
        name="cifar10",
        make_target="mlperf-ic-data",
        files=(
            (
                RemoteFile(
                    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                    "cifar-10-python.tar.gz",
                    md5="c58f30108f718f92721af3b95e74349a",
                    size=170498071,
                ),
                ".",
            ),
        ),
        layout="cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta} (python pickles)",
    ),
    "vww": Dataset(
        name="vww",
        make_target="mlperf-vww-data",
        files=(
            (
                RemoteFile(
                    "https://www.silabs.com/public/files/github/machine_learning/benchmarks/datasets/vw_coco2014_96.tar.gz",
                    "vw_coco2014_96.tar.gz",
                ),
                ".",
            ),
        ),
        layout="vw_coco2014_96/{person,non_person}/*.jpg (96x96 RGB)",
    ),
}


class DownloadError(rc.RunFailed):
    """A download failed (offline, bad checksum, ...); the message says what to do."""


def offline_message(dataset, url, reason):
    return (
        f"Could not download {url} ({reason}). The {dataset.name} dataset must be fetched once with internet "
        f"access: run `make {dataset.make_target}` (or `python -m mlperf_tiny.download {dataset.name} "
        f"--data_dir DATA`) on a connected machine, or place the extracted files yourself so that DATA holds "
        f"{dataset.layout}. For an offline run use the mini datasets: `make mini-data` and MINI=1."
    )


def file_digest(path, algorithm, chunk_size=1 << 20):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(path, remote):
    """Raise DownloadError when ``path`` does not match the pinned sha256/md5; return the sha256."""
    sha256 = file_digest(path, "sha256")
    if remote.sha256 and sha256 != remote.sha256:
        raise DownloadError(f"{path}: sha256 {sha256} != expected {remote.sha256}; delete the file and retry")
    if remote.md5:
        md5 = file_digest(path, "md5")
        if md5 != remote.md5:
            raise DownloadError(f"{path}: md5 {md5} != expected {remote.md5}; delete the file and retry")
    if not (remote.sha256 or remote.md5):
        print(f"warning: no pinned checksum for {remote.filename}; its sha256 is {sha256}", file=sys.stderr)
    return sha256


def fetch(remote, download_dir, dataset, progress=True, timeout=30):
    """Download ``remote`` into ``download_dir`` (resuming a ``.part`` file) and verify it; return the path."""
    download_dir = Path(download_dir)
    download_dir.mkdir(parents=True, exist_ok=True)
    final = download_dir / remote.filename
    if final.exists():
        verify_checksum(final, remote)
        return final
    part = final.with_name(final.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(remote.url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise DownloadError(offline_message(dataset, remote.url, err)) from err
    with response:
        if start and response.status != 206:  # server ignored the Range header: start over
            start = 0
        total = remote.size or (start + int(response.headers.get("Content-Length", 0) or 0)) or None
        from tqdm import tqdm

        with open(part, "ab" if start else "wb") as out, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, desc=remote.filename, disable=not progress
        ) as bar:
            try:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
            except (urllib.error.URLError, TimeoutError, OSError) as err:
                raise DownloadError(
                    f"download of {remote.url} interrupted ({err}); run the same command again to resume"
                ) from err
    verify_checksum(part, remote)
    part.replace(final)
    return final


def extract(archive, dest_dir):
    """Unpack a .tar.gz or .zip archive into ``dest_dir`` (paths outside it are refused)."""
    archive, dest_dir = Path(archive), Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        if archive.name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(archive) as tar:
                tar.extractall(dest_dir, filter="data")
        elif archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zf:
                root = dest_dir.resolve()
                for member in zf.namelist():
                    if not (dest_dir / member).resolve().is_relative_to(root):
                        raise DownloadError(f"{archive}: refusing to extract {member!r} outside {dest_dir}")
                zf.extractall(dest_dir)
        else:
            raise rc.bad_file(archive, "unknown archive type (expected .tar.gz, .tgz, .tar or .zip)")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise rc.bad_file(archive, f"truncated or corrupt archive ({err})", "delete it and run the download again") \
            from None


def download_dataset(name, data_dir, progress=True, keep_archives=True):
    """Fetch and unpack dataset ``name`` under ``data_dir``; return data_dir. A no-op once complete."""
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    dataset = DATASETS[name]
    data_dir = Path(data_dir)
    stamp = data_dir / f".complete-{name}"
    if stamp.exists():
        return data_dir
    for remote, extract_to in dataset.files:
        archive = fetch(remote, data_dir / "downloads", dataset, progress=progress)
        print(f"extracting {archive} -> {data_dir / extract_to}")
        extract(archive, data_dir / extract_to)
        if not keep_archives:
            archive.unlink()
    rc.write_text(stamp, "")
    return data_dir


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="Download an MLPerf Tiny dataset", add_help=add_help, allow_abbrev=False)
    parser.add_argument("dataset", choices=sorted(DATASETS), help="dataset to fetch")
    parser.add_argument("--data_dir", default="data", help="root folder; archives go to <data_dir>/downloads")
    parser.add_argument("--delete_archives", action="store_true", help="delete each archive once extracted")
    return parser


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    rc.check(not Path(args.data_dir).exists() or Path(args.data_dir).is_dir(),
             f"--data_dir {args.data_dir} is a file, not a folder")
    download_dataset(args.dataset, args.data_dir, keep_archives=not args.delete_archives)
    return 0


if __name__ == "__main__":
    rc.entry(main)
