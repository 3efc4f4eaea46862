"""Writing video with sound: frames (T, H, W, 3) uint8 and PCM16 audio to an H.264 + AAC MP4 through PyAV.

PyAV is optional (`pip install av`); it is imported only when a file is written, so the SDK stays light.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from eai_avatar.import_utils import require


def write_mp4(
    path: str | Path,
    frames: np.ndarray,
    fps: int,
    audio: np.ndarray | None = None,
    sample_rate: int = 16_000,
    crf: int = 20,
) -> Path:
    """Encode `frames` at `fps` (and mono PCM16 `audio`, if given) into an MP4 at `path`."""
    require("av", "writing MP4 files")
    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty (T, H, W, 3) uint8 array, got {frames.dtype} {frames.shape}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"H.264 needs even frame sizes, got {frames.shape[2]}x{frames.shape[1]}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "veryfast"})
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        sound = None
        if audio is not None:
            audio = np.asarray(audio)
            if audio.ndim != 1 or audio.dtype != np.int16:
                raise ValueError(f"audio must be mono int16 PCM, got {audio.dtype} {audio.shape}")
            sound = container.add_stream("aac", rate=sample_rate, layout="mono")
        for image in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            chunk = 1024
            for start in range(0, len(audio), chunk):
                block = audio[start : start + chunk].reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
                frame.sample_rate = sample_rate
                frame.pts = start
                frame.time_base = Fraction(1, sample_rate)
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path
