"""The browser output's parts that need no browser: addresses, page messages, the side-by-side picture, the 48 kHz
sound, the paced tracks, the offer's fields, the config and the flag. The page itself is tested in Chromium
(tests/web/test_browser.py)."""

import asyncio
import contextlib
import json
import re

import numpy as np
import pytest

from eai_avatar.runtime.outputs import web
from eai_avatar.runtime.sessions.commands import Advance, EndUtterance, Interrupt, Rejected, Say


def test_addresses():
    assert web.parse_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert web.parse_address("[::1]:0") == ("::1", 0)
    assert web.parse_address("localhost:80") == ("localhost", 80)
    for bad in ("8080", "127.0.0.1", "http://x:80", "a:99999", ""):
        with pytest.raises(ValueError, match="bad web address"):
            web.parse_address(bad)


def test_page_messages_become_commands():
    assert web.page_command(json.dumps({"type": "say", "text": "Hi"}), 100) == Say("Hi")
    assert web.page_command('{"type": "interrupt"}', 100) == Interrupt()
    assert web.page_command('{"type": "advance"}', 100) == Advance(1)
    assert web.page_command('{"type": "mic_off"}', 100) == EndUtterance()
    assert web.page_command('{"type": "mic_on"}', 100) is None
    for text, message in (("not json", "not JSON"), ('{"type": "dance"}', "unknown page message type 'dance'"),
                          ('{"type": "say", "text": 5}', "say needs its text"), ("[1]", "unknown page message"),
                          ('{"type": "say", "text": "' + "a" * 200 + '"}', "at most 100 characters")):  # fmt: skip
        command = web.page_command(text, 100)
        assert isinstance(command, Rejected) and message in str(command.error)


def test_the_picture_holds_each_avatars_latest_frame_side_by_side():
    pictures = web.SideBySide(("ada", "bo"), 4)
    assert (pictures.picture() == web.SideBySide.BACKGROUND).all()
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200
    pictures.update("bo", "raw_rgb", 4, 4, red.tobytes())
    picture = pictures.picture()
    assert picture.shape == (4, 8, 3) and (picture[:, 4:] == red).all()
    assert (picture[:, :4] == web.SideBySide.BACKGROUND).all()
    pictures.update("eli", "raw_rgb", 4, 4, red.tobytes())  # not shown here: ignored
    pictures.update("ada", "raw_rgb", 4, 4, b"")  # images off: nothing to draw
    assert pictures.frames_drawn == 1
    with pytest.raises(ValueError, match="raw_rgb 4x4"):
        pictures.update("ada", "jpeg", 4, 4, b"\xff\xd8")


def test_sound_is_resampled_to_48_khz_and_silence_fills_the_gaps():
    sound = web.SoundQueue()
    assert not sound.take(960).any()
    t = np.arange(16_000) / 16_000
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    sound.add(tone[:8000])
    sound.add(tone[8000:])
    assert abs(sound.samples_queued - 48_000) < 200  # the resampler keeps its filter's tail until more comes
    out = np.concatenate([sound.take(960) for _ in range(55)])
    spectrum = np.abs(np.fft.rfft(out[4800:43200].astype(np.float64)))
    assert abs(np.argmax(spectrum) * 48_000 / 38_400 - 440) < 2  # the same tone, at 48 kHz
    assert np.abs(out[4800:43200]).max() > 7000
    assert not out[-960:].any()  # nothing more queued: silence


def test_microphone_frames_become_mono_int16():
    av = pytest.importorskip("av")
    stereo = np.array([[1, -1, 2, -2, 3, -3]], np.int16)  # packed s16: L R L R L R
    frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
    assert web.mono_int16(frame).tolist() == [1, 2, 3]
    planar = av.AudioFrame.from_ndarray(np.array([[0.5, -0.5], [0.1, 0.1]], np.float32), format="fltp",
                                        layout="stereo")  # fmt: skip
    assert web.mono_int16(planar).tolist() == [16384, -16384]


def test_tracks_are_paced_with_timestamps_that_count_frames():
    pytest.importorskip("aiortc")
    video_track, audio_track, _ = web._tracks()

    async def scenario():
        video, audio = video_track(web.SideBySide(("ada", "bo"), 8)), audio_track(web.SoundQueue())
        begun = asyncio.get_running_loop().time()
        frames = [await video.recv() for _ in range(4)]
        video_s = asyncio.get_running_loop().time() - begun
        sounds = [await audio.recv() for _ in range(3)]
        video.stop()
        audio.stop()
        return frames, video_s, sounds

    frames, video_s, sounds = asyncio.run(scenario())
    assert [f.pts for f in frames] == [0, 3600, 7200, 10800] and frames[0].width == 16 and frames[0].height == 8
    assert video_s >= 3 / 25 - 0.01  # 25 frames a second
    assert [s.pts for s in sounds] == [0, 960, 1920] and sounds[0].sample_rate == 48_000 and sounds[0].samples == 960


def test_offer_fields():
    identities = {"ada": 0, "bo": 0, "cyra": 0}
    assert web._offer_fields({"type": "offer", "sdp": "v=0"}, identities, 256) == ("v=0", ("ada", "bo"), 256)
    body = {"type": "offer", "sdp": "v=0", "characters": ["cyra", "ada"], "size": 128}
    assert web._offer_fields(body, identities, 256) == ("v=0", ("cyra", "ada"), 128)
    for bad, message in (({"sdp": "v=0"}, "must be"), ({"type": "offer", "sdp": "v=0", "size": 8}, "size must be"),
                         ({"type": "offer", "sdp": "v=0", "size": "128"}, "size must be"),
                         ({"type": "offer", "sdp": "v=0", "characters": ["ada"]}, "two identity names")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            web._offer_fields(bad, identities, 256)


def test_every_asset_is_served_by_the_runtime():
    """No CDN: the page's files reference nothing outside the server."""
    for name, _ in web.ASSETS.values():
        text = (web.PAGE_FOLDER / name).read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.IGNORECASE), name
    html = (web.PAGE_FOLDER / "index.html").read_text(encoding="utf-8")
    assert 'src="app.js"' in html and 'href="style.css"' in html


def test_config_and_the_serve_flag(tmp_path, capsys):
    from eai_avatar.cli import main
    from eai_avatar.runtime.config import RuntimeConfig

    assert RuntimeConfig.load(env={}).server.web == ""
    assert RuntimeConfig.load(env={"EAI_AVATAR_WEB": "0.0.0.0:8080"}).server.web == "0.0.0.0:8080"
    file = tmp_path / "runtime.toml"
    file.write_text('[server]\nweb = "127.0.0.1:9000"\n')
    assert RuntimeConfig.load(file, env={}).server.web == "127.0.0.1:9000"
    file.write_text('[server]\nweb = "9000"\n')
    with pytest.raises(ValueError, match="bad web address '9000'"):
        RuntimeConfig.load(file, env={})
    assert main(["serve", "--web", "nowhere", "--db", ":memory:"]) == 2
    assert "eai-avatar serve: error: bad web address 'nowhere': expected HOST:PORT" in capsys.readouterr().err


def test_the_tracks_reach_a_webrtc_peer():
    """The video and audio tracks through aiortc's encoders (VP8, Opus), ICE and DTLS to a peer in this process:
    what the peer decodes is the picture and the sound that were put in."""
    pytest.importorskip("aiortc")
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    video_track, audio_track, media_error = web._tracks()
    pictures, sound = web.SideBySide(("ada", "bo"), 64), web.SoundQueue()

    async def scenario():
        server = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peer.addTransceiver("video", direction="recvonly")
        peer.addTransceiver("audio", direction="sendrecv")
        received = {"video": [], "audio": []}

        async def consume(track):
            with contextlib.suppress(media_error):
                while True:
                    received[track.kind].append(await track.recv())

        peer.on("track", lambda track: asyncio.ensure_future(consume(track)))
        await peer.setLocalDescription(await peer.createOffer())
        await server.setRemoteDescription(RTCSessionDescription(peer.localDescription.sdp, "offer"))
        server.addTrack(video_track(pictures))
        server.addTrack(audio_track(sound))
        await server.setLocalDescription(await server.createAnswer())
        await peer.setRemoteDescription(server.localDescription)
        red = np.zeros((64, 64, 3), np.uint8)
        red[..., 0] = 220
        pictures.update("bo", "raw_rgb", 64, 64, red.tobytes())
        sound.add((8000 * np.sin(2 * np.pi * 440 * np.arange(16_000) / 16_000)).astype(np.int16))
        await asyncio.sleep(1.5)
        await peer.close()
        await server.close()
        return received

    received = asyncio.run(scenario())
    assert len(received["video"]) >= 15 and len(received["audio"]) >= 30
    picture = received["video"][-1].to_ndarray(format="rgb24")
    assert picture.shape == (64, 128, 3)
    assert picture[:, 64:, 0].mean() > 180 and picture[:, 64:, 1:].mean() < 30  # bo's square, red
    assert np.abs(picture[:, :64].mean(axis=(0, 1)) - web.SideBySide.BACKGROUND).max() < 12  # ada: no frame yet
    heard = np.concatenate([web.mono_int16(frame) for frame in received["audio"]])
    assert np.abs(heard).max() > 4000  # the tone, through Opus


class _Manager:
    """Just what the web server asks of a SessionManager, with sessions that are never driven."""

    def __init__(self):
        from types import SimpleNamespace

        from eai_avatar.runtime.config import RuntimeConfig

        self.config = RuntimeConfig()
        self.models = SimpleNamespace(bundle=SimpleNamespace(identities={"ada": 0, "bo": 0}), image_size=256)
        self.store, self.lease_ttl_s = None, 10.0
        self.closed: list[str] = []

    def create(self, request):
        from eai_avatar.runtime.errors import NotFound

        unknown = [c.identity for c in request.characters if c.identity not in self.models.bundle.identities]
        if unknown:
            raise NotFound(f"unknown identity {unknown[0]!r}")
        self.request = request
        return "s1", None

    def take(self, session_id):
        from types import SimpleNamespace

        from eai_avatar.runtime.sessions.manager import SessionSettings

        request = self.request
        settings = SessionSettings(tuple(c.identity for c in request.characters), {}, {}, request.mode, "scripted",
                                   "", 1, request.output)  # fmt: skip
        return SimpleNamespace(id=session_id, settings=settings)

    async def close(self, session_id, run=None):
        self.closed.append(session_id)
        return 0


def test_the_page_its_assets_and_refused_offers_over_http():
    aiohttp = pytest.importorskip("aiohttp")
    manager = _Manager()

    async def scenario():
        server = web.WebServer(manager)
        port = await server.start("127.0.0.1:0")
        base = f"http://127.0.0.1:{port}"
        answers = {}
        async with aiohttp.ClientSession() as client:
            for path in ("/", "/app.js", "/style.css", "/identities", "/secret.py"):
                async with client.get(base + path) as response:
                    answers[path] = (response.status, response.content_type, await response.text())
            for name, body in (("not json", "{"), ("no sdp", json.dumps({"type": "offer"})),
                               ("unknown", json.dumps({"type": "offer", "sdp": "v=0", "characters": ["ada", "zed"]})),
                               ("no media", json.dumps({"type": "offer", "sdp": "v=0"}))):  # fmt: skip
                async with client.post(base + "/offer", data=body) as response:
                    answers[name] = (response.status, (await response.json())["error"])
        await server.stop()
        return answers

    answers = asyncio.run(scenario())
    assert answers["/"][:2] == (200, "text/html") and "<video" in answers["/"][2]
    assert answers["/app.js"][:2] == (200, "text/javascript") and answers["/style.css"][:2] == (200, "text/css")
    assert json.loads(answers["/identities"][2]) == {"identities": ["ada", "bo"]}
    assert answers["/secret.py"][0] == 404
    assert answers["not json"][0] == 400 and answers["no sdp"] == (400, 'the body must be {"type": "offer", '
                                                                        '"sdp": "..."}')  # fmt: skip
    assert answers["unknown"] == (404, "unknown identity 'zed'")
    assert answers["no media"][0] == 400 and "must receive video and audio" in answers["no media"][1]
    assert manager.closed == ["s1"]  # the session made for a refused offer is deleted again
    assert manager.request.mode == "human_agent" and manager.request.output.include_human_avatar
