import pytest

from eai_avatar import vocabulary as v


def test_emotions_are_meads_eight_in_order():
    assert v.EMOTIONS == ("angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised")
    assert v.NEUTRAL in v.EMOTIONS
    assert [v.emotion_index(e) for e in v.EMOTIONS] == list(range(8))


def test_arkit_names_are_the_52_of_anchors():
    assert len(v.ARKIT_BLENDSHAPES) == 52
    assert len(set(v.ARKIT_BLENDSHAPES)) == 52
    for name in ("jawOpen", "mouthClose", "eyeBlinkLeft", "browInnerUp", "tongueOut", "cheekPuff"):
        assert name in v.ARKIT_BLENDSHAPES
    # every left shape has its right twin
    lefts = [n for n in v.ARKIT_BLENDSHAPES if n.endswith("Left")]
    assert all(n[: -len("Left")] + "Right" in v.ARKIT_BLENDSHAPES for n in lefts)
    assert "jawOpen" in v.LIP_SYNC_BLENDSHAPES and "eyeBlinkLeft" not in v.LIP_SYNC_BLENDSHAPES


def test_rates_and_sizes():
    assert v.FPS == 25 and v.SAMPLE_RATE == 16_000 and v.SAMPLES_PER_FRAME == 640
    assert v.IMAGE_SIZE == (256, 256)


@pytest.mark.parametrize("bad", ["Happy", "joy", ""])
def test_unknown_emotion_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="unknown emotion"):
        v.emotion_index(bad)


def test_unknown_blendshape_is_a_clear_error():
    with pytest.raises(ValueError, match="jawopen"):
        v.blendshape_index("jawopen")
