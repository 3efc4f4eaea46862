"""The turn's stages, one small class each (DESIGN.md section 3), in the order a chunk meets them:

planning   RecognizeEmotion (C), Voice (TTS or the client's audio)           TurnRequest -> Utterance
(the Conversation grows the tree, computes Q and stores the round)            Utterance -> TurnPlan
faces      SpeakerFaces (Audio2Exp), ListenerFaces (LEED)                      -> blendshapes
heads      HeadMasks (CRHMG), HeadPoses (mask moments + head motion)           -> masks, poses
drawing    MotionImages (mask + E_t), Render (the one-step renderer)           -> controls, rgba
output     Encode (frame rate, size, image encoding)                           -> EncodedFrame
"""

from eai_avatar.runtime.pipeline.stages.base import Stage
from eai_avatar.runtime.pipeline.stages.drawing import MotionImages, Render, upsample
from eai_avatar.runtime.pipeline.stages.faces import ListenerFaces, SpeakerFaces
from eai_avatar.runtime.pipeline.stages.heads import HeadMasks, HeadPoses
from eai_avatar.runtime.pipeline.stages.output import Encode, encode_image, output_indices
from eai_avatar.runtime.pipeline.stages.planning import RecognizeEmotion, Voice, check_text, frames_of

__all__ = ["Encode", "HeadMasks", "HeadPoses", "ListenerFaces", "MotionImages", "RecognizeEmotion", "Render",
           "SpeakerFaces", "Stage", "Voice", "check_text", "encode_image", "frames_of", "output_indices",
           "upsample"]  # fmt: skip
