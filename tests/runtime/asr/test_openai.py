"""The OpenAI-compatible transcription backend against a local fake server that checks what it is sent."""

import base64
import email.parser
import email.policy
import http.server
import io
import json
import threading
import time
import wave

import numpy as np
import pytest

from eai_avatar.runtime.asr import create_recognizer
from eai_avatar.runtime.asr.openai import OpenAITranscriber, wav_bytes

RATE = 16_000
SPEECH = (np.sin(2 * np.pi * 220 * np.arange(RATE) / RATE) * 8000).astype(np.int16)


class FakeServer:
    """`POST /v1/audio/transcriptions`: records each request; answers with `reply` (status, body) or sleeps."""

    def __init__(self):
        self.requests: list[dict] = []
        self.reply = (200, json.dumps({"text": "  Hello there,\n general. "}).encode())
        self.delay_s = 0.0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                time.sleep(server.delay_s)
                status, payload = server.reply
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


def form(request: dict) -> dict:
    """The multipart form's fields: name -> text, or (file name, content type, bytes) for a file."""
    head = f"Content-Type: {request['headers']['Content-Type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request["body"])
    assert message.is_multipart()
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if part.get_filename():
            fields[name] = (part.get_filename(), part.get_content_type(), payload)
        else:
            fields[name] = payload.decode()
    return fields


def test_transcribes_through_the_endpoint(server):
    recognizer = create_recognizer("openai", base_url=server.url + "/", model="whisper-large-v3", api_key="sk-test")
    transcript = recognizer.transcribe(SPEECH, prompt="General Kenobi")
    assert transcript.text == "Hello there, general."
    assert transcript.language == "en" and transcript.words == () and transcript.confidence is None
    (request,) = server.requests
    assert request["path"] == "/v1/audio/transcriptions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    fields = form(request)
    assert {k: v for k, v in fields.items() if k != "file"} == {
        "model": "whisper-large-v3",
        "response_format": "json",
        "language": "en",
        "prompt": "General Kenobi",
    }
    filename, content_type, data = fields["file"]
    assert (filename, content_type) == ("utterance.wav", "audio/wav")
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, RATE)
        assert np.array_equal(np.frombuffer(wav.readframes(wav.getnframes()), "<i2"), SPEECH)


def test_configured_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("EAI_AVATAR_ASR_BASE_URL", server.url)
    monkeypatch.setenv("EAI_AVATAR_ASR_MODEL", "Systran/faster-whisper-small")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    recognizer = create_recognizer("openai", language="")
    assert recognizer.transcribe(SPEECH).text == "Hello there, general."
    (request,) = server.requests
    assert "Authorization" not in request["headers"]
    fields = form(request)
    assert fields["model"] == "Systran/faster-whisper-small"
    assert "language" not in fields and "prompt" not in fields


def test_silence_is_answered_without_a_request(server):
    recognizer = OpenAITranscriber(base_url=server.url)
    assert recognizer.transcribe(np.zeros(RATE, np.int16)).text == ""
    assert server.requests == []


def test_errors_name_the_endpoint_but_never_the_credentials(server):
    server.reply = (401, json.dumps({"error": {"message": "Incorrect API key provided: sk-secret"}}).encode())
    url = server.url.replace("http://", "http://user:hunter2@")
    recognizer = OpenAITranscriber(base_url=url, api_key="sk-secret")
    with pytest.raises(RuntimeError) as caught:
        recognizer.transcribe(SPEECH)
    message = str(caught.value)
    assert "HTTP 401" in message and "Incorrect API key provided: ***" in message
    assert f"({server.url}/audio/transcriptions)" in message
    assert "hunter2" not in message and "sk-secret" not in message
    assert "sk-secret" not in repr(recognizer) and "hunter2" not in repr(recognizer)


def test_credentials_in_the_url_are_sent_as_basic_authentication(server):
    recognizer = OpenAITranscriber(base_url=server.url.replace("http://", "http://me:p%40ss@"), api_key="")
    assert recognizer.transcribe(SPEECH).text
    (request,) = server.requests
    assert request["headers"]["Authorization"] == "Basic " + base64.b64encode(b"me:p@ss").decode()
    assert request["path"] == "/v1/audio/transcriptions"


@pytest.mark.parametrize(
    "body, expected",
    [(b"<html>oops</html>", "malformed reply"), (b'{"txt": "x"}', "malformed reply"), (b'{"text": 3}', "not a string")],
)
def test_a_malformed_reply_is_a_clear_error(server, body, expected):
    server.reply = (200, body)
    with pytest.raises(RuntimeError, match=expected):
        OpenAITranscriber(base_url=server.url).transcribe(SPEECH)


def test_a_slow_server_times_out(server):
    server.delay_s = 1.0
    with pytest.raises(RuntimeError, match=r"no answer within 0.2 s \(http://127.0.0.1:\d+/v1/audio/transcriptions\)"):
        OpenAITranscriber(base_url=server.url, timeout_s=0.2).transcribe(SPEECH)


def test_no_server_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"cannot connect.*\(http://127.0.0.1:9/v1/audio/transcriptions\)"):
        OpenAITranscriber(base_url="http://127.0.0.1:9/v1", timeout_s=2).transcribe(SPEECH)


def test_settings_are_checked(monkeypatch):
    monkeypatch.delenv("EAI_AVATAR_ASR_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(RuntimeError, match="needs an API key.*OPENAI_API_KEY"):
        OpenAITranscriber()
    with pytest.raises(ValueError, match="http"):
        OpenAITranscriber(base_url="ftp://example.com")
    with pytest.raises(ValueError, match="timeout_s"):
        OpenAITranscriber(base_url="http://localhost:8000/v1", timeout_s=0)
    with pytest.raises(ValueError, match="language"):
        OpenAITranscriber(base_url="http://localhost:8000/v1", language="en-US")
    assert OpenAITranscriber(api_key="sk-x").model == "whisper-1"


def test_wav_bytes_is_a_plain_pcm16_file():
    data = wav_bytes(np.array([0, 1, -1, 32767, -32768], np.int16))
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt " and len(data) == 44 + 10
