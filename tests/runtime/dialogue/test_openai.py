"""The openai backend against a local OpenAI-compatible server that streams server-sent events."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eai_avatar.runtime.dialogue import DialogueContext, DialogueLine, create_backend
from eai_avatar.runtime.dialogue.openai import iter_sse_data

KEY = "sk-test-secret-123"


class FakeServer(ThreadingHTTPServer):
    """Answers POST /v1/chat/completions as `reply` says: "stream", "json", "error" or "slow"."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.reply = "stream"
        self.pieces = ["Ada: Hello", " there,", " Ben."]
        self.requests = []

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output quiet
        pass

    def do_POST(self):
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if server.reply == "slow":
            time.sleep(0.5)  # longer than the client waits; it has gone by then, so nothing to answer
            return
        if server.reply == "error":
            payload = json.dumps({"error": {"message": f"upstream exploded for key {KEY}"}}).encode()
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if server.reply == "json":
            message = {"role": "assistant", "content": "".join(server.pieces)}
            payload = json.dumps({"choices": [{"index": 0, "message": message}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b": keep-alive comment\n\n")
        for piece in server.pieces:
            chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def server(monkeypatch):
    for name in ("EAI_AVATAR_OPENAI_BASE_URL", "EAI_AVATAR_OPENAI_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")  # a proxy in the environment must not catch the test
    fake = FakeServer()
    thread = threading.Thread(target=fake.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    fake.shutdown()
    fake.server_close()
    thread.join(timeout=5)


def make_context():
    return DialogueContext(
        characters=("ada", "ben"),
        display_names={"ada": "Ada", "ben": "Ben"},
        personas={"ada": "a cheerful baker"},
        topic="",
        history=[
            DialogueLine("ben", "You're late again."),
            DialogueLine("ada", "The oven broke."),
            DialogueLine("ben", "Again?"),
        ],
        emotions={"ada": "sad", "ben": "angry"},
    )


def make_backend(server, **options):
    options = {"base_url": server.base_url, "model": "tiny-chat", "api_key": KEY} | options
    return create_backend("openai", topic="a late delivery", seed=5, **options)


def test_streams_pieces_and_sends_the_protocol(server):
    backend = make_backend(server)
    pieces = list(backend.stream_line(make_context()))
    assert pieces == ["Hello", " there,", " Ben."]
    request = server.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["model"] == "tiny-chat" and body["stream"] is True and body["seed"] == 5
    system = body["messages"][0]
    assert system["role"] == "system"
    assert "Ada currently feels sad" in system["content"] and "Ben currently feels angry" in system["content"]
    assert "Topic: a late delivery." in system["content"] and "Ada is a cheerful baker." in system["content"]
    assert [m["role"] for m in body["messages"][1:]] == ["user", "assistant", "user"]
    assert body["messages"][-1]["content"] == "Again?"


def test_next_line_joins_the_pieces_without_the_name_prefix(server):
    line = make_backend(server).next_line(make_context())
    assert line == DialogueLine(speaker="ada", text="Hello there, Ben.")
    server.reply = "json"  # a server that ignores stream: true
    assert make_backend(server).next_line(make_context()).text == "Hello there, Ben."


def test_settings_come_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("EAI_AVATAR_OPENAI_BASE_URL", server.base_url + "/")
    monkeypatch.setenv("EAI_AVATAR_OPENAI_MODEL", "env-model")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    backend = create_backend("openai", seed=None)
    assert backend.next_line(make_context()).text == "Hello there, Ben."
    request = server.requests[-1]
    assert request["body"]["model"] == "env-model" and "seed" not in request["body"]
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(backend)


def test_no_key_no_authorization_header(server):
    make_backend(server, api_key="").next_line(make_context())
    assert "Authorization" not in server.requests[-1]["headers"]


def test_http_error_names_status_and_endpoint_but_never_the_key(server):
    server.reply = "error"
    with pytest.raises(RuntimeError) as info:
        make_backend(server).next_line(make_context())
    message = str(info.value)
    assert "HTTP 500" in message and f"{server.base_url}/chat/completions" in message
    assert "upstream exploded" in message and KEY not in message


def test_empty_reply_and_timeout_and_refused_connection(server):
    server.pieces = ["Ada:", " ", ""]
    with pytest.raises(RuntimeError, match="empty line"):
        make_backend(server).next_line(make_context())
    server.reply = "slow"
    with pytest.raises(RuntimeError, match="no answer within 0.2 s") as info:
        make_backend(server, timeout_s=0.2).next_line(make_context())
    assert KEY not in str(info.value)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RuntimeError, match=f"cannot connect.*127.0.0.1:{port}"):
        make_backend(server, base_url=f"http://127.0.0.1:{port}/v1").next_line(make_context())


def test_configuration_errors(server):
    with pytest.raises(RuntimeError, match="EAI_AVATAR_OPENAI_MODEL"):
        create_backend("openai", base_url=server.base_url)
    with pytest.raises(RuntimeError, match="OPENAI_API_KEY"):
        create_backend("openai", model="gpt-4o-mini")
    with pytest.raises(ValueError, match="'ftp://example.com'"):
        create_backend("openai", base_url="ftp://example.com", model="m")


def test_sse_parsing():
    lines = [b"event: message\n", b'data: {"a":\n', b"data: 1}\n", b"\n", b": comment\n", b"data: [DONE]\n", b"\n"]
    assert list(iter_sse_data(lines + [b"data: after\n\n"])) == ['{"a":\n1}']
