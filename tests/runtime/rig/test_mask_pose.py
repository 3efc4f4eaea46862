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


def test_a_float_mask_a_rounding_error_above_one_keeps_its_scale():
    """1 generated mask in 2,000 peaked at 1 + 1e-7: read as 0..255, its head came out 16 times too small."""
    import numpy as np

    from eai_avatar.runtime.rig import MaskReference, estimate_pose_from_mask
    from eai_avatar.runtime.rig.mask_pose import mask_moments

    ys, xs = np.mgrid[:64, :64]
    mask = (((xs - 32) / 14) ** 2 + ((ys - 30) / 20) ** 2 < 1).astype(np.float32)
    above = mask.copy()
    above[30, 32] = np.float32(1.0000001)
    assert abs(mask_moments(above).area - mask_moments(mask).area) < 1e-3
    assert abs(estimate_pose_from_mask(above, MaskReference.from_mask(mask)).scale - 1.0) < 1e-3
    assert abs(mask_moments((mask * 255).astype(np.uint8)).area - mask_moments(mask).area) < 1e-3
