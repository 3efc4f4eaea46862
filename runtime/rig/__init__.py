"""The face rig: a 3D landmark face driven by ARKit-named blendshapes and a head pose.

It is shared by inference and training (DESIGN.md section 2): the renderer's conditioning image E_t is drawn
from it, the studio's characters are built on it, and head poses are recovered from head masks through it.
"""

from eai_avatar.runtime.rig.face_rig import RIG_BLENDSHAPES, FaceRig, HeadPose, RigParams, RigState
from eai_avatar.runtime.rig.mask_pose import MaskReference, estimate_pose_from_mask
from eai_avatar.runtime.rig.motion_image import PART_COLOURS, draw_motion_image

__all__ = [
    "PART_COLOURS",
    "RIG_BLENDSHAPES",
    "FaceRig",
    "HeadPose",
    "MaskReference",
    "RigParams",
    "RigState",
    "draw_motion_image",
    "estimate_pose_from_mask",
]
