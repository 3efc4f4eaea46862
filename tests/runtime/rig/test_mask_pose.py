def test_a_round_silhouette_gives_no_wild_roll():
    """A disc has no principal axis; a pixel of noise must not read as a 35-degree tilt (curly hair did)."""
    import numpy as np

    from eai_avatar.runtime.rig import MaskReference, estimate_pose_from_mask

    ys, xs = np.mgrid[:128, :128]
    disc = ((xs - 64) ** 2 + (ys - 60) ** 2 < 40**2).astype(np.float32)
    bumped = disc.copy()
    bumped[20:24, 70:90] = 1.0  # a small lump, as generated masks have
    pose = estimate_pose_from_mask(bumped, MaskReference.from_mask(disc))
    assert abs(pose.roll_deg) < 3.0
