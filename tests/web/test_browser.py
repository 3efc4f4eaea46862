"""`eai-avatar serve --web` in a real headless Chromium: the page loads from the runtime alone, the WebRTC video
decodes and changes, the voices play, a typed line is answered with captions, and words said into the (fake)
microphone are recognized, captioned and answered.

Chromium and its driver are Debian's `chromium` and `chromium-driver`, which `make test` installs (apt-get) when
they are missing; selenium (a dev dependency) drives them. The server is the real command in a child process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WEB_LINE = re.compile(r"web page at (http://\S+/)")
TYPED_LINE = "Hello there, how are you today?"
SPOKEN_LINE = "Tell me about the weather today."


@contextmanager
def serving(folder):
    """`eai-avatar serve --web 127.0.0.1:0` in a child process; yields (page URL, its output so far)."""
    command = [sys.executable, "-m", "eai_avatar", "serve", "--port", "0", "--web", "127.0.0.1:0", "--db",
               str(folder / "sessions.db"), "--threads", "1"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output: list[str] = []
    found = threading.Event()

    def read():
        for text in server.stdout:
            output.append(text)
            if WEB_LINE.search(text):
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not found.wait(90):
            pytest.fail("the server did not start:\n" + "".join(output))
        yield WEB_LINE.search("".join(output))[1], output
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        reader.join(5)


@contextmanager
def chromium(folder, microphone_wav):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail("Chromium and chromedriver are needed (`make test` installs Debian's chromium and chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 "--autoplay-policy=no-user-gesture-required", "--window-size=900,800",
                 # Host candidates as addresses, not mDNS names (no mDNS responder in a container).
                 "--disable-features=WebRtcHideLocalIpsWithMdns",
                 # The fake microphone says the words in this file once, from when the page asks for it.
                 f"--use-file-for-fake-audio-capture={microphone_wav}%noloop"):  # fmt: skip
        options.add_argument(flag)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(folder / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def spoken_wav(path, text: str):
    """`text` in espeak-ng's voice as a 16 kHz WAV, with quiet around it (the quiet after it ends the utterance)."""
    import wave

    import numpy as np

    from eai_avatar.runtime.tts.espeak import EspeakBackend

    speech = EspeakBackend().synthesize(text, "en-us")
    quiet = np.zeros(speech.sample_rate // 2, np.int16)
    samples = np.concatenate([quiet, speech.samples, quiet, quiet, quiet, quiet, quiet, quiet])
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(speech.sample_rate)
        wav.writeframes(samples.tobytes())
    return path


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """(driver, page URL, the server's output): one server and one headless Chromium for this module's tests; each
    test loads the page, which makes a session of its own."""
    pytest.importorskip("espeakng_loader", reason="the offline voice is espeak-ng (pip install 'eai-avatar[tts]')")
    folder = tmp_path_factory.mktemp("web")
    microphone_wav = spoken_wav(folder / "microphone.wav", SPOKEN_LINE)
    with serving(folder) as (url, output), chromium(folder, microphone_wav) as driver:
        yield driver, url, output


def wait_for(driver, script: str, timeout_s: float, what: str, output: list[str]):
    """Poll `script` (a JS function body) until it returns something truthy; fail with the page's events and the
    server's output."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.2)
    events = driver.execute_script("return window.eaiAvatar ? window.eaiAvatar.events.slice(-20) : null")
    state = driver.execute_script("return window.eaiAvatar ? window.eaiAvatar.state : null")
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}; page state {state!r}, last events {events}\n"
                f"server output:\n{''.join(output)[-4000:]}")  # fmt: skip


GRAB = """
const video = document.getElementById('avatars');
const canvas = document.createElement('canvas');
canvas.width = 64; canvas.height = 32;
const context = canvas.getContext('2d');
context.drawImage(video, 0, 0, 64, 32);
return Array.from(context.getImageData(0, 0, 64, 32).data);
"""


def test_the_page_shows_both_avatars_live_and_answers_a_typed_line(page):
    import numpy as np
    from selenium.webdriver.common.by import By

    driver, url, output = page
    driver.get(url + "?size=128")
    assert driver.title == "EAI-Avatar"
    wait_for(driver, "return window.eaiAvatar.state === 'connected'", 30, "the WebRTC connection", output)
    wait_for(driver, "return window.eaiAvatar.sessionId", 30, "the session's start on the data channel", output)

    # The agent greets first: its caption arrives, the video decodes frames, and the picture changes.
    greeting = wait_for(driver, "return window.eaiAvatar.captions[0]", 60, "the greeting's caption", output)
    agent = driver.execute_script("return window.eaiAvatar.agent")
    human = driver.execute_script("return window.eaiAvatar.human")
    assert greeting["speaker"] == agent and greeting["text"]
    quality = "return document.getElementById('avatars').getVideoPlaybackQuality().totalVideoFrames"
    first_count = wait_for(driver, quality + " > 5 && " + quality.removeprefix("return "), 30, "decoded frames",
                           output)  # fmt: skip
    size = driver.execute_script("const v = document.getElementById('avatars'); return [v.videoWidth, "
                                 "v.videoHeight]")  # fmt: skip
    assert size == [256, 128]  # both avatars side by side, each 128x128
    pictures = [np.array(driver.execute_script(GRAB), np.float32).reshape(32, 64, 4)[..., :3]]
    time.sleep(0.8)
    pictures.append(np.array(driver.execute_script(GRAB), np.float32).reshape(32, 64, 4)[..., :3])
    assert driver.execute_script(quality) > first_count  # frames keep decoding
    assert pictures[1].std() > 10  # a picture, not the empty background
    assert np.abs(pictures[1] - pictures[0]).mean() > 0.5  # the avatars move

    # The voices: the audio element plays (its clock advances) and the analyser hears sound.
    audio_time = driver.execute_script("return document.getElementById('voices').currentTime")
    time.sleep(0.5)
    assert driver.execute_script("return document.getElementById('voices').currentTime") > audio_time
    assert driver.execute_script("return !document.getElementById('voices').paused")
    wait_for(driver, "return window.eaiAvatar.maxLevel > 0.01", 20, "sound in the audio track", output)

    # A typed line: the human's avatar says it, then the agent answers; both are captioned on the page.
    box = driver.find_element(By.ID, "line")
    box.send_keys(TYPED_LINE)
    driver.find_element(By.ID, "send").click()
    said = f"return window.eaiAvatar.captions.findIndex(c => c.text === {TYPED_LINE!r} && c.speaker === {human!r})"
    wait_for(driver, said + " >= 0", 60, "the typed line's caption", output)
    answered = (f"const i = window.eaiAvatar.captions.findIndex(c => c.text === {TYPED_LINE!r}); return i >= 0 "
                f"&& window.eaiAvatar.captions.slice(i + 1).some(c => c.speaker === {agent!r})")  # fmt: skip
    wait_for(driver, answered, 60, "the agent's answer", output)
    page_text = driver.find_element(By.ID, "captions").text
    assert TYPED_LINE in page_text and greeting["text"] in page_text
    events = driver.execute_script("return window.eaiAvatar.events.map(e => e.type)")
    assert {"started", "turn_started", "caption", "emotion", "turn_ended"} <= set(events)
    emotions = driver.execute_script("return window.eaiAvatar.emotions")
    assert set(emotions) == {human, agent}
    assert driver.execute_script("return document.getElementById('notice').textContent") == ""


def test_the_microphone_is_heard_and_answered(page):
    """The page's microphone button: Chromium's fake microphone says SPOKEN_LINE, the server hears it (voice
    activity, then Whisper), the words come back as the person's caption, and the agent answers."""
    from selenium.webdriver.common.by import By

    pytest.importorskip("faster_whisper", reason="speech recognition is the asr extra (a dev dependency)")
    driver, url, output = page
    driver.get(url + "?size=96")
    wait_for(driver, "return window.eaiAvatar.sessionId", 30, "the session's start", output)
    wait_for(driver, "return window.eaiAvatar.events.some(e => e.type === 'turn_ended')", 60, "the greeting's end",
             output)  # fmt: skip
    human = driver.execute_script("return window.eaiAvatar.human")
    agent = driver.execute_script("return window.eaiAvatar.agent")
    driver.find_element(By.ID, "mic").click()
    heard = (f"return window.eaiAvatar.captions.find(c => c.speaker === {human!r} && c.final && "
             "/weather/i.test(c.text))")  # fmt: skip
    caption = wait_for(driver, heard, 60, "the spoken line's caption", output)
    assert "weather" in caption["text"].lower()
    answered = (f"const i = window.eaiAvatar.captions.findIndex(c => c.speaker === {human!r} && c.final && "
                f"/weather/i.test(c.text)); return window.eaiAvatar.captions.slice(i + 1).some(c => c.speaker === "
                f"{agent!r})")  # fmt: skip
    wait_for(driver, answered, 60, "the agent's answer to the spoken line", output)
    assert driver.execute_script("return window.eaiAvatar.events.some(e => e.type === 'human_speech')")
    driver.find_element(By.ID, "mic").click()
    assert driver.execute_script("return document.getElementById('notice').textContent") == ""
