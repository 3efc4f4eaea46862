"""Fixtures for the speech sources: espeak-ng comes from PyPI (CI has it), Festival and flite from Debian (CI may
not, so their tests skip)."""

import shutil

import pytest


@pytest.fixture(scope="session")
def espeak_source():
    pytest.importorskip("espeakng_loader")
    from eai_avatar.export.speech.espeak import EspeakSource

    return EspeakSource()


@pytest.fixture(scope="session")
def festival_source():
    if shutil.which("festival") is None:
        pytest.skip("Festival is not installed (apt-get install festival festvox-kdlpc16k)")
    from eai_avatar.export.speech.festival import FestivalSource

    source = FestivalSource()
    if not source.voices():
        pytest.skip("Festival has no voice installed (apt-get install festvox-kdlpc16k)")
    return source


@pytest.fixture(scope="session")
def flite_source():
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed (apt-get install flite)")
    from eai_avatar.export.speech.flite import FliteSource

    return FliteSource()
