"""Speech audio in numpy only: sample-rate conversion and the log-mel features the audio-to-expression model reads."""

from eai_avatar.runtime.audio.features import (
    DEFAULT_CONFIG,
    FEATURES_PER_VIDEO_FRAME,
    LogMelConfig,
    StreamingLogMel,
    frames_to_video,
    log_mel,
    mel_band_centers,
)
from eai_avatar.runtime.audio.resample import resample

__all__ = [
    "DEFAULT_CONFIG",
    "FEATURES_PER_VIDEO_FRAME",
    "LogMelConfig",
    "StreamingLogMel",
    "frames_to_video",
    "log_mel",
    "mel_band_centers",
    "resample",
]
