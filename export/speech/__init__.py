"""Speech from several synthesizer families, each utterance with the synthesizer's own phone timings and visemes.

Audio2Exp learned lips from espeak-ng alone; these folders give it (and its evaluation) other voices with the same
ground truth. One `SpeechSource` per family (`sources.create_source`): espeak-ng (`espeak.py`, from PyPI), Festival
(`festival.py`) and flite (`flite.py`, both from Debian). `speak(text, voice)` gives 16 kHz mono int16 samples and
contiguous phones with their Meta visemes; `folder.write_speech_folder` writes them in the format its module
docstring describes; `eai-avatar data speech` is the command. The CMU slt and kal voices are reserved for
independent evaluation and refused everywhere (`base.RESERVED_VOICE_TOKENS`).
"""

from eai_avatar.export.speech.base import MissingProgramError, Phone, SpeechSource, SpokenText, is_reserved_voice
from eai_avatar.export.speech.folder import read_speech_folder, utterance_id, write_speech_folder
from eai_avatar.export.speech.sources import FAMILIES, create_source, parse_voice, source_statuses

__all__ = [
    "FAMILIES",
    "MissingProgramError",
    "Phone",
    "SpeechSource",
    "SpokenText",
    "create_source",
    "is_reserved_voice",
    "parse_voice",
    "read_speech_folder",
    "source_statuses",
    "utterance_id",
    "write_speech_folder",
]
