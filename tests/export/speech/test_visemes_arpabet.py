import pytest

from eai_avatar.runtime.motion.visemes import ARPABET_TO_VISEME, VISEMES, viseme_for, viseme_for_arpabet

#: Festival's "radio" phone set (festival/lib/radio_phones.scm), which flite's US English phone set repeats.
RADIO_PHONES = (
    "aa ae ah ao aw ax axr ay b ch d dh dx eh el em en er ey f g hh hv ih iy jh k l m n nx ng ow oy p r s sh t th uh "
    "uw v w y z zh pau h# brth"
).split()


def test_every_radio_phone_has_a_viseme():
    assert set(RADIO_PHONES) == set(ARPABET_TO_VISEME)
    for phone in RADIO_PHONES:
        assert viseme_for_arpabet(phone) in VISEMES


def test_table_covers_the_phone_set_festival_reports(festival_source, tmp_path):
    from eai_avatar.export.speech.base import run_program

    if "kdlpc16k" not in festival_source.voices():
        pytest.skip("festvox-kdlpc16k is not installed")
    script = tmp_path / "phones.scm"
    script.write_text(
        "(voice_ked_diphone)\n"
        '(mapcar (lambda (p) (format t "%s " (car p))) (car (cdr (car (PhoneSet.description \'(phones))))))\n'
    )
    phones = run_program(["festival", "--batch", str(script)], "festival listing its phones").split()
    assert len(phones) >= 45
    assert set(phones) <= set(ARPABET_TO_VISEME)


@pytest.mark.parametrize(
    ("phone", "viseme"),
    [("p", "PP"), ("b", "PP"), ("m", "PP"), ("em", "PP"), ("f", "FF"), ("v", "FF"), ("th", "TH"), ("dh", "TH"),
     ("t", "DD"), ("dx", "DD"), ("k", "kk"), ("ng", "kk"), ("sh", "CH"), ("jh", "CH"), ("s", "SS"), ("n", "nn"),
     ("l", "nn"), ("r", "RR"), ("er", "RR"), ("aa", "aa"), ("ae", "aa"), ("eh", "E"), ("ax", "E"), ("iy", "I"),
     ("ih", "I"), ("ao", "O"), ("uw", "U"), ("w", "U"), ("y", "I"), ("pau", "sil")],
)  # fmt: skip
def test_arpabet_agrees_with_the_espeak_table(phone, viseme):
    assert viseme_for_arpabet(phone) == viseme


@pytest.mark.parametrize(
    ("arpabet", "espeak"),
    [("p", "p"), ("b", "b"), ("m", "m"), ("f", "f"), ("th", "T"), ("dh", "D"), ("t", "t"), ("k", "k"), ("ng", "N"),
     ("ch", "tS"), ("zh", "Z"), ("s", "s"), ("n", "n"), ("l", "l"), ("r", "r"), ("aa", "A:"), ("ae", "a"),
     ("ah", "V"), ("ao", "O:"), ("eh", "E"), ("ax", "@"), ("ih", "I"), ("iy", "i:"), ("uh", "U"), ("uw", "u:"),
     ("w", "w"), ("y", "j"), ("hh", "h"), ("pau", "_"), ("axr", "3")],
)  # fmt: skip
def test_same_sound_same_viseme_in_both_tables(arpabet, espeak):
    assert viseme_for_arpabet(arpabet) == viseme_for(espeak)


@pytest.mark.parametrize(("diphthong", "onset"), [("ay", "aI"), ("aw", "aU"), ("ey", "eI"), ("ow", "oU"), ("oy", "OI")])
def test_diphthongs_take_their_onset(diphthong, onset):
    assert viseme_for_arpabet(diphthong) == viseme_for(onset)


def test_case_and_stress_digits_are_ignored():
    assert viseme_for_arpabet("AY1") == "aa"
    assert viseme_for_arpabet("ER0") == "RR"
    assert viseme_for_arpabet(" M ") == "PP"


@pytest.mark.parametrize("bad", ["xx", "", "p1x", "_", "3:"])
def test_unknown_symbols_are_refused(bad):
    with pytest.raises(ValueError, match="ARPAbet"):
        viseme_for_arpabet(bad)
