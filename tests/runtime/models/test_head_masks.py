"""A head-mask stream keeps its character: the emitted silhouette is the first mask, posed as CRHMG's mask is."""

import numpy as np
import pytest

from eai_avatar.export.crhmg.identity import identity_of_stream, normalised_silhouette
from eai_avatar.runtime.models.head_masks import HeadMaskGenerator, pose_reference
from eai_avatar.runtime.rig.mask_pose import mask_moments

SIZE = 64


def head(cx=32.0, cy=30.0, scale=1.0, turn_deg=0.0, bun=False) -> np.ndarray:
    """A tall head outline (an ellipse), optionally with a bun on top, moved, scaled and turned."""
    ys, xs = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    rho = np.radians(turn_deg)
    dx, dy = xs - cx, ys - cy
    u, v = (np.cos(rho) * dx + np.sin(rho) * dy) / scale, (-np.sin(rho) * dx + np.cos(rho) * dy) / scale
    shape = (u / 11) ** 2 + (v / 16) ** 2 < 1
    if bun:
        shape |= (u / 6) ** 2 + ((v + 17) / 5) ** 2 < 1
    return shape.astype(np.float32)


def iou(a, b) -> float:
    a, b = a > 0.5, b > 0.5
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("cx, cy, scale, turn", [(36, 28, 1.1, 0.0), (28, 33, 0.9, 6.0), (32, 30, 1.0, -8.0)])
def test_the_reference_posed_as_a_moved_copy_of_itself_is_that_copy(cx, cy, scale, turn):
    reference = head(bun=True)
    moved = head(cx, cy, scale, turn, bun=True)
    posed = pose_reference(reference, mask_moments(reference), moved)
    assert iou(posed, moved) > 0.93
    assert mask_moments(posed).centroid == pytest.approx(mask_moments(moved).centroid, abs=0.3)


def _drifting_generator(keep_identity: bool) -> HeadMaskGenerator:
    """A fake CRHMG whose masks wander right and, window by window, lose the bun: an identity that drifts."""

    def encode(masks):
        return np.array([[masks[0, 0].sum()]], np.float32)

    windows = iter(range(1000))

    def generate(z1, eta, eps):
        k = next(windows)
        return np.stack([head(32 + 0.1 * t, 30, 1.0, 0.0, bun=k < 1) for t in range(eta.shape[1])])[None]

    return HeadMaskGenerator(encode, generate, 1, window=16, overlap=4, keep_identity=keep_identity)


def test_a_stream_keeps_its_own_silhouette_while_the_generator_drifts():
    first = head(bun=True)
    references = {"bun": first, "plain": head()}
    rng = np.random.default_rng(0)
    free = _drifting_generator(False)
    drifted = free.next(free.start(first), 60, 1.0, rng)
    assert identity_of_stream(drifted, "bun", references)["nearest_own"] < 0.5  # the free masks lose the bun
    kept_generator = _drifting_generator(True)
    kept = kept_generator.next(kept_generator.start(first), 60, 1.0, np.random.default_rng(0))
    report = identity_of_stream(kept, "bun", references)
    assert report["nearest_own"] == 1.0 and report["iou_own_min"] > 0.95
    assert mask_moments(kept[-1]).centroid[0] > mask_moments(kept[0]).centroid[0] + 0.5  # it still moves


def test_normalised_silhouettes_ignore_where_and_how_big():
    assert iou(normalised_silhouette(head(20, 25, 0.8)), normalised_silhouette(head(40, 35, 1.2))) > 0.95
    assert iou(normalised_silhouette(head(bun=True)), normalised_silhouette(head())) < 0.9


def test_the_mask_strip_shows_each_character_free_and_posed(tmp_path, capsys):
    pytest.importorskip("PIL")
    from PIL import Image

    from eai_avatar.cli import main

    out = tmp_path / "strip.png"
    assert main(["data", "mask-strip", "--out", str(out), "--seconds", "2", "--every", "1"]) == 0
    assert "5 characters" in capsys.readouterr().out
    image = np.asarray(Image.open(out))
    assert image.shape[0] == 10 * 66 * 2  # 5 characters x (free, posed) rows of 64-pixel masks with a border, x2
    assert main(["data", "mask-strip", "--out", str(out), "--seconds", "2", "--every", "3"]) != 0
    assert "--every" in capsys.readouterr().err
