"""Mini Speech Commands v0.02 (imitates `speech_commands_v0.02.tar.gz` extracted, plus the separate
`speech_commands_test_set_v0.02.tar.gz` that the tfds builder reads for its test split).

Words are spoken by ``espeak-ng`` with varied English accents and voice variants ("speakers"), speed and
pitch, then ``sox`` resamples to 16 kHz, changes the tempo slightly and sets the gain; the word is placed
at a random onset in exactly 1.000 s of 16-bit mono audio with a faint noise floor. Background noise
files are ``sox`` white/pink/brown noise and a hum.

Layout (as the real archives):
    speech_commands/<word>/<speakerhash>_nohash_<n>.wav     10 keywords + 25 auxiliary words
    speech_commands/validation_list.txt, testing_list.txt  relative paths word/file.wav
    speech_commands/_background_noise_/*.wav               running_tap.wav goes to validation in tfds
    speech_commands_test_set_v0.02/<label>/*.wav           10 keywords, _silence_, _unknown_, balanced
A speaker is in exactly one of train/validation/test, as with the real dataset's hash split.
"""

import hashlib
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._common import SAMPLE_RATE, make_rng, progress, read_wav_int16, write_wav_int16

NAME = "speech_commands"
TEST_SET_NAME = "speech_commands_test_set_v0.02"
KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
# The 25 non-keyword words of v0.02 (they all become _unknown_).
AUXILIARY_WORDS = ["bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
                   "backward", "forward", "follow", "learn", "visual", "zero", "one", "two", "three",
                   "four", "five", "six", "seven", "eight", "nine"]
BACKGROUND_NOISE = "_background_noise_"
SILENCE, UNKNOWN = "_silence_", "_unknown_"
REQUIRED_TOOLS = ("espeak-ng", "sox")
# espeak-ng voices: English accents x voice variants = speakers. ("en-gb" ignores +variant; "en" is British.)
ACCENTS = ["en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "klatt4", "klatt5"]
VALIDATION_FRACTION = 0.1  # of speakers, as the real 10% / 10% hash split
TESTING_FRACTION = 0.1
SPEAKER_SPEED_RANGE = (125, 185)  # espeak-ng -s, words per minute; each speaker has a base speed
SPEAKER_PITCH_RANGE = (25, 75)  # espeak-ng -p, 0..99
UTTERANCE_SPEED_JITTER = 15
UTTERANCE_PITCH_JITTER = 8
TEMPO_RANGE = (0.9, 1.1)  # sox tempo factor
PEAK_DBFS_RANGE = (-12.0, -1.0)  # sox gain -n: peak level of the word
SPEECH_THRESHOLD = 0.02  # fraction of the peak that marks the start/end of the word
NOISE_FLOOR_STD = 0.0005  # a microphone-like noise floor (about -66 dBFS), so no clip is digital silence
CLIP_SAMPLES = SAMPLE_RATE  # 1.000 s
# (file name, seconds, sox synth arguments); the real folder has white_noise.wav, pink_noise.wav and
# running_tap.wav too (tfds puts running_tap.wav into validation).
NOISE_FILES = [
    ("white_noise.wav", 60, ["synth", "{seconds}", "whitenoise"]),
    ("pink_noise.wav", 60, ["synth", "{seconds}", "pinknoise"]),
    ("running_tap.wav", 30, ["synth", "{seconds}", "pinknoise", "highpass", "800", "tremolo", "6", "20"]),
    ("exercise_bike.wav", 30, ["synth", "{seconds}", "brownnoise", "tremolo", "1.5", "60"]),
    ("mains_hum.wav", 20, ["synth", "{seconds}", "sawtooth", "50", "synth", "{seconds}", "brownnoise", "mix",
                           "lowpass", "600"]),
]
NOISE_PEAK_DBFS_RANGE = (-10.0, -3.0)
TEST_SILENCE_VOLUME_RANGE = (0.0, 1.0)


class MissingToolError(RuntimeError):
    pass


def require_tools():
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise MissingToolError(
            f"{' and '.join(missing)} not found on PATH: the mini Speech Commands dataset is synthesised with "
            "espeak-ng and sox. Install them with `make apt` (or `sudo apt-get install -y espeak-ng sox`), "
            "then rerun `make mini-data`."
        )


def _run(command, stdin_bytes=None):
    try:
        return subprocess.run(command, input=stdin_bytes, capture_output=True, check=True).stdout
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"{' '.join(command)} failed ({error.returncode}): {error.stderr.decode(errors='replace')}") from error


def make_speakers(rng, seed, max_speakers=None):
    """One speaker per (accent, variant) with a base speed and pitch and a split; id = 8 hex digits.

    ``max_speakers`` keeps a random subset (small test datasets need few speakers to fill every split).
    """
    speakers = []
    for accent in ACCENTS:
        for variant in VARIANTS:
            speaker_id = hashlib.sha1(f"{seed}:{accent}+{variant}".encode()).hexdigest()[:8]
            speakers.append({
                "id": speaker_id, "voice": f"{accent}+{variant}",
                "speed": rng.uniform(*SPEAKER_SPEED_RANGE), "pitch": rng.uniform(*SPEAKER_PITCH_RANGE),
            })
    if max_speakers is not None and max_speakers < len(speakers):
        speakers = [speakers[i] for i in sorted(rng.choice(len(speakers), size=max_speakers, replace=False))]
    order = rng.permutation(len(speakers))
    n_validation = max(1, round(VALIDATION_FRACTION * len(speakers)))
    n_testing = max(1, round(TESTING_FRACTION * len(speakers)))
    for rank, index in enumerate(order):
        speakers[index]["split"] = ("validation" if rank < n_validation else
                                    "testing" if rank < n_validation + n_testing else "training")
    return speakers


def plan_utterances(speakers, rng, clips_per_keyword, clips_per_auxiliary_word, words):
    """Every clip's parameters, drawn up front so the output does not depend on thread scheduling."""
    jobs, repeats = [], {}
    for word in words:
        n_clips = clips_per_keyword if word in KEYWORDS else clips_per_auxiliary_word
        # each speaker once before anyone repeats, as far as n_clips allows
        picks = np.concatenate([rng.permutation(len(speakers)) for _ in range(-(-n_clips // len(speakers)))])
        for index in picks[:n_clips]:
            speaker = speakers[index]
            n = repeats.get((word, speaker["id"]), 0)
            repeats[(word, speaker["id"])] = n + 1
            jobs.append({
                "word": word, "speaker": speaker, "relpath": f"{word}/{speaker['id']}_nohash_{n}.wav",
                "speed": int(round(speaker["speed"] + rng.uniform(-UTTERANCE_SPEED_JITTER, UTTERANCE_SPEED_JITTER))),
                "pitch": int(np.clip(round(speaker["pitch"] + rng.uniform(-UTTERANCE_PITCH_JITTER,
                                                                            UTTERANCE_PITCH_JITTER)), 0, 99)),
                "tempo": rng.uniform(*TEMPO_RANGE), "peak_dbfs": rng.uniform(*PEAK_DBFS_RANGE),
                "onset_fraction": rng.random(), "noise_seed": int(rng.integers(2**32)),
            })
    return jobs


def synthesize_word(job):
    """espeak-ng -> sox (16 kHz, tempo, gain) -> word at a random onset in exactly 1 s, int16."""
    speech = _run(["espeak-ng", "-v", job["speaker"]["voice"], "-s", str(job["speed"]), "-p", str(job["pitch"]),
                   "--stdout", job["word"]])
    # -R: repeatable dither, so the same seed gives the same bytes
    raw = _run(["sox", "-R", "-V1", "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed-integer",
                "-b", "16", "-c", "1", "-", "tempo", "-s", f"{job['tempo']:.3f}", "gain", "-n",
                f"{job['peak_dbfs']:.2f}"], stdin_bytes=speech)
    word = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    loud = np.flatnonzero(np.abs(word) > SPEECH_THRESHOLD * np.abs(word).max())
    word = word[loud[0]:loud[-1] + 1][:CLIP_SAMPLES]
    onset = int(job["onset_fraction"] * (CLIP_SAMPLES - len(word)))
    clip = np.random.default_rng(job["noise_seed"]).normal(0.0, NOISE_FLOOR_STD, CLIP_SAMPLES)
    clip[onset:onset + len(word)] += word
    return clip


def _write_utterance(job, out):
    write_wav_int16(out / job["relpath"], synthesize_word(job))


def write_background_noise(noise_dir, rng):
    noise_dir.mkdir(parents=True)
    for file_name, seconds, synth in NOISE_FILES:
        effects = [arg.format(seconds=seconds) for arg in synth]
        # -R: sox's repeatable mode, so the noise is the same on every run
        _run(["sox", "-R", "-n", "-r", str(SAMPLE_RATE), "-b", "16", "-c", "1", str(noise_dir / file_name),
              *effects, "gain", "-n", f"{rng.uniform(*NOISE_PEAK_DBFS_RANGE):.2f}"])
    (noise_dir / "README.md").write_text(
        "Background noise of the mini Speech Commands, synthesised with `sox -n ... synth` "
        "(white, pink, filtered pink with tremolo, brown with tremolo, a 50 Hz hum). "
        "Not recordings: the names follow the real folder where the sound is similar.\n")


def write_test_set(out_root, sc_dir, testing_relpaths, keywords, rng):
    """The balanced 12-label test archive: n clips per keyword, n _unknown_, n _silence_."""
    test_dir = out_root / TEST_SET_NAME
    by_word = {}
    for relpath in testing_relpaths:
        by_word.setdefault(relpath.split("/")[0], []).append(relpath)
    unknown = sorted(p for word, paths in by_word.items() if word not in KEYWORDS for p in paths)
    n_per_label = min(len(by_word.get(word, [])) for word in keywords)
    if unknown:
        n_per_label = min(n_per_label, len(unknown))
    for word in keywords:
        (test_dir / word).mkdir(parents=True)
        for relpath in sorted(by_word.get(word, []))[:n_per_label]:
            shutil.copyfile(sc_dir / relpath, test_dir / relpath)
    (test_dir / UNKNOWN).mkdir()
    for index in sorted(rng.choice(len(unknown), size=min(n_per_label, len(unknown)), replace=False)):
        word, file_name = unknown[index].split("/")
        shutil.copyfile(sc_dir / unknown[index], test_dir / UNKNOWN / f"{word}_{file_name}")
    (test_dir / SILENCE).mkdir()
    noises = [read_wav_int16(path)[0] for path in sorted((sc_dir / BACKGROUND_NOISE).glob("*.wav"))]
    for index in range(n_per_label):
        noise = noises[rng.integers(len(noises))]
        start = int(rng.integers(0, len(noise) - CLIP_SAMPLES))
        volume = rng.uniform(*TEST_SILENCE_VOLUME_RANGE)
        clip = np.round(noise[start:start + CLIP_SAMPLES] * volume).astype(np.int16)
        write_wav_int16(test_dir / SILENCE / f"silence_{index:04d}.wav", clip)
    return n_per_label


def generate(out_root, seed=0, clips_per_keyword=120, clips_per_auxiliary_word=24, words=None, max_speakers=None,
             jobs=2, show_progress=True):
    """Write ``out_root/speech_commands/`` and ``out_root/speech_commands_test_set_v0.02/``.

    ``words`` defaults to the 10 keywords + 25 auxiliary words; ``jobs`` espeak-ng/sox pipelines run at once.
    """
    require_tools()
    rng = make_rng(seed, NAME)
    words = list(KEYWORDS + AUXILIARY_WORDS if words is None else words)
    sc_dir = out_root / NAME
    for word in words:
        (sc_dir / word).mkdir(parents=True)
    speakers = make_speakers(rng, seed, max_speakers)
    utterances = plan_utterances(speakers, rng, clips_per_keyword, clips_per_auxiliary_word, words)
    # Threads are enough: the work happens in the espeak-ng and sox processes.
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, \
            progress(desc=NAME, total=len(utterances), enabled=show_progress) as bar:
        for _ in pool.map(lambda job: _write_utterance(job, sc_dir), utterances):
            bar.update(1)
    lists = {"validation": [], "testing": []}
    for job in utterances:
        if job["speaker"]["split"] in lists:
            lists[job["speaker"]["split"]].append(job["relpath"])
    for split, relpaths in lists.items():
        (sc_dir / f"{split}_list.txt").write_text("".join(f"{p}\n" for p in sorted(relpaths)))
    write_background_noise(sc_dir / BACKGROUND_NOISE, rng)
    (sc_dir / "README.md").write_text(
        "Mini Speech Commands v0.02 synthesised offline with espeak-ng + sox by mlperf_tiny.mini_data. "
        "Same layout as the real archive; numbers on it are mini-data numbers.\n")
    write_test_set(out_root, sc_dir, lists["testing"], [w for w in KEYWORDS if w in words], rng)
    return [NAME, TEST_SET_NAME]
