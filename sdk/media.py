"""Writing video with sound: frames (T, H, W, 3) uint8 and PCM16 audio to an H.264 + AAC MP4 through PyAV.

PyAV is optional (`pip install av`); it is imported only when a file is written, so the SDK stays light.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from eai_avatar.import_utils import require


class Mp4Writer:
    """An MP4 written frame by frame, so a long video is never held in memory; the mono PCM16 audio track, if
    any, is given to `close` (the muxer takes the video's packets first, then the audio's).

    Args:
        path: the file to write (folders are made).
        fps: frames per second.
        width, height: the frame size (even, as H.264 with 4:2:0 chroma needs).
        sample_rate: the audio track's rate, or None for a silent video (streams are declared before writing).
        crf: x264 quality (lower is better; 20 is visually clean for flat-shaded characters).
    """

    def __init__(self, path: str | Path, fps: int, width: int, height: int, sample_rate: int | None = 16_000,
                 crf: int = 20):  # fmt: skip
        require("av", "writing MP4 files")
        import av

        if width % 2 or height % 2:
            raise ValueError(f"H.264 needs even frame sizes, got {width}x{height}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._av = av
        self._container = av.open(str(self.path), "w")
        self._video = self._container.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "veryfast"})
        self._video.width, self._video.height, self._video.pix_fmt = width, height, "yuv420p"
        self._sound = None
        if sample_rate is not None:
            self._sound = self._container.add_stream("aac", rate=sample_rate, layout="mono")
        self.sample_rate = sample_rate
        self.frames = 0

    def add(self, image: np.ndarray) -> None:
        """One (H, W, 3) uint8 frame."""
        image = np.asarray(image)
        if image.shape != (self._video.height, self._video.width, 3) or image.dtype != np.uint8:
            raise ValueError(f"a frame must be ({self._video.height}, {self._video.width}, 3) uint8, got "
                             f"{image.dtype} {image.shape}")  # fmt: skip
        for packet in self._video.encode(self._av.VideoFrame.from_ndarray(image, format="rgb24")):
            self._container.mux(packet)
        self.frames += 1

    def close(self, audio: np.ndarray | None = None) -> Path:
        """Finish the video and write `audio` (mono int16 at the writer's sample rate) as its sound."""
        av = self._av
        sample_rate = self.sample_rate
        if self.frames == 0:
            self._container.close()
            raise ValueError("an MP4 needs at least one frame")
        for packet in self._video.encode():
            self._container.mux(packet)
        if audio is not None and self._sound is None:
            self._container.close()
            raise ValueError("this writer was made without an audio track (sample_rate=None)")
        if self._sound is not None:
            audio = np.zeros(0, np.int16) if audio is None else np.asarray(audio)
            if audio.ndim != 1 or audio.dtype != np.int16:
                self._container.close()
                raise ValueError(f"audio must be mono int16 PCM, got {audio.dtype} {audio.shape}")
            sound = self._sound
            chunk = 1024
            for start in range(0, len(audio), chunk):
                block = audio[start : start + chunk].reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
                frame.sample_rate = sample_rate
                frame.pts = start
                frame.time_base = Fraction(1, sample_rate)
                for packet in sound.encode(frame):
                    self._container.mux(packet)
            for packet in sound.encode():
                self._container.mux(packet)
        self._container.close()
        return self.path


def write_mp4(
    path: str | Path,
    frames: np.ndarray,
    fps: int,
    audio: np.ndarray | None = None,
    sample_rate: int = 16_000,
    crf: int = 20,
) -> Path:
    """Encode `frames` at `fps` (and mono PCM16 `audio`, if given) into an MP4 at `path`."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty (T, H, W, 3) uint8 array, got {frames.dtype} {frames.shape}")
    if audio is not None and (np.asarray(audio).ndim != 1 or np.asarray(audio).dtype != np.int16):
        raise ValueError(f"audio must be mono int16 PCM, got {np.asarray(audio).dtype} {np.asarray(audio).shape}")
    writer = Mp4Writer(path, fps, frames.shape[2], frames.shape[1], sample_rate if audio is not None else None, crf)
    for image in frames:
        writer.add(image)
    return writer.close(audio)
