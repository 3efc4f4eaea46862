import numpy as np
import pytest

from eai_avatar.export.studio.characters import CHARACTERS, CharacterRenderer, character, render_contact_sheet
from eai_avatar.runtime.rig import HeadPose, RigState
from eai_avatar.runtime.rig.motion_image import PART_COLOURS


@pytest.fixture(scope="module")
def renderers():
    return {name: CharacterRenderer(style) for name, style in CHARACTERS.items()}


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    grown = mask.copy()
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            grown |= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return grown


def _talking(pose=None):
    return RigState.from_dict({"jawOpen": 0.7, "mouthSmileLeft": 0.3, "eyeBlinkRight": 0.4}, pose or HeadPose())


def test_at_least_four_distinct_characters(renderers):
    assert len(CHARACTERS) >= 4
    frames = {name: r.render(RigState(), (128, 128)).rgb.astype(int) for name, r in renderers.items()}
    names = list(frames)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert np.abs(frames[a] - frames[b]).mean() > 8, (a, b)
    assert len({s.hair_style for s in CHARACTERS.values()}) >= 4
    assert len({s.skin for s in CHARACTERS.values()}) == len(CHARACTERS)


@pytest.mark.parametrize("size", [128, 256, 512])
def test_frame_mask_and_motion_image_agree(renderers, size):
    pose = HeadPose(yaw_deg=12, pitch_deg=-5, roll_deg=6, tx=0.04, ty=-0.02, scale=1.05)
    for renderer in renderers.values():
        frame = renderer.render(_talking(pose), (size, size))
        assert frame.rgb.shape == (size, size, 3) and frame.mask.shape == (size, size)
        assert frame.motion.shape == (size, size, 3)
        inside = frame.mask > 127
        # E_t lies inside the head mask. Where the face oval is the silhouette (the chin), the line straddles
        # the edge, so the mask is grown by one line width (E_t lines are size/128 pixels wide).
        grown = _dilate(inside, int(np.ceil(size / 128)) + 1)
        drawn = frame.motion.max(axis=-1) > 60
        assert (drawn & ~grown).sum() <= 0.002 * drawn.sum()
        # the mask covers the face: every landmark of the rig state is inside it (the oval's own points lie on
        # the silhouette's edge, hence the grown mask)
        landmarks = np.round(renderer.rig.image_landmarks(_talking(pose), (size, size))).astype(int)
        assert grown[landmarks[:, 1].clip(0, size - 1), landmarks[:, 0].clip(0, size - 1)].all()
        # and the frame differs from the background inside the mask (the head is drawn there)
        background = np.array(renderer.style.background)
        assert (np.abs(frame.rgb[inside].astype(int) - background).sum(axis=1) > 30).mean() > 0.95


def test_rendering_is_deterministic(renderers):
    renderer = renderers["ada"]
    a, b = renderer.render(_talking(), (256, 256)), CharacterRenderer(CHARACTERS["ada"]).render(_talking(), (256, 256))
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.mask, b.mask) and np.array_equal(a.motion, b.motion)


def test_open_mouth_shows_teeth_and_closed_eyes_hide_the_iris(renderers):
    renderer = renderers["dev"]
    closed = renderer.render(RigState(), (256, 256)).rgb.astype(int)
    opened = renderer.render(RigState.from_dict({"jawOpen": 0.8}), (256, 256)).rgb.astype(int)
    lips = renderer.rig.contour(
        "lips_outer", renderer.rig.image_landmarks(RigState.from_dict({"jawOpen": 0.8}), (256, 256))
    )
    (x0, y0), (x1, y1) = lips.min(axis=0).astype(int), lips.max(axis=0).astype(int) + 1

    def teeth(image):  # tooth-white pixels in the mouth's box (the eyes' whites are a similar colour)
        return (np.abs(image[y0:y1, x0:x1] - [240, 238, 228]).sum(axis=-1) < 30).sum()

    assert teeth(opened) > 30 and teeth(closed) < teeth(opened) / 5
    iris = np.array(renderer.style.eyes)
    blink = renderer.render(RigState.from_dict({"eyeBlinkLeft": 1, "eyeBlinkRight": 1}), (256, 256)).rgb.astype(int)
    assert (np.abs(blink - iris).sum(axis=-1) < 20).sum() < 0.2 * (np.abs(closed - iris).sum(axis=-1) < 20).sum()


def test_motion_image_uses_the_part_colours(renderers):
    motion = renderers["bo"].render(_talking(), (256, 256)).motion
    for _, colour, _ in PART_COLOURS.values():
        assert np.all(motion == colour, axis=-1).sum() > 5, colour


def test_contact_sheet_shape():
    sheet = render_contact_sheet(64)
    assert sheet.shape == ((len(CHARACTERS) + 1) * 64, 8 * 64, 3)


def test_unknown_character():
    with pytest.raises(ValueError, match="unknown character 'zed'"):
        character("zed")
