"""Any OpenAI-compatible transcription endpoint as a speech recognizer: OpenAI, a faster-whisper or whisper.cpp
server, vLLM.

`POST {base_url}/audio/transcriptions` with a multipart form (the utterance as a 16 kHz mono WAV file, the model,
the language, the prompt); the reply is JSON whose "text" is the transcript. Only the standard library speaks HTTP
here, configured as the OpenAI dialogue backend is: options first, then $EAI_AVATAR_ASR_BASE_URL,
$EAI_AVATAR_ASR_MODEL and $OPENAI_API_KEY. Errors name the endpoint, never the key or credentials in the URL.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
import wave

import numpy as np

from eai_avatar.runtime.asr.base import SpeechRecognizer, Transcript
from eai_avatar.version import __version__
from eai_avatar.vocabulary import SAMPLE_RATE

BASE_URL_ENV = "EAI_AVATAR_ASR_BASE_URL"
MODEL_ENV = "EAI_AVATAR_ASR_MODEL"
API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: OpenAI's name for Whisper; a local server names its own model ($EAI_AVATAR_ASR_MODEL).
DEFAULT_MODEL = "whisper-1"
DEFAULT_TIMEOUT_S = 30.0
_ERROR_BODY_CHARS = 300
_PATH = "/audio/transcriptions"


def wav_bytes(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """int16 mono samples as a complete WAV file (PCM16)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(np.asarray(samples, "<i2").tobytes())
    return buffer.getvalue()


def multipart_form(fields: dict[str, str], files: dict[str, tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data request: text `fields`, and `files` as name ->
    (file name, content type, bytes)."""
    boundary = f"eai-avatar-{uuid.uuid4().hex}"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content_type, data) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class OpenAITranscriber(SpeechRecognizer):
    """Transcripts from `POST {base_url}/audio/transcriptions`.

    Options (each falls back to the environment): `base_url` ($EAI_AVATAR_ASR_BASE_URL, default the OpenAI API; a
    user:password@ in it is sent as HTTP Basic authentication when there is no API key),
    `model` ($EAI_AVATAR_ASR_MODEL, default whisper-1), `api_key` ($OPENAI_API_KEY; local servers need none),
    `timeout_s` (per connect and per read, default 30) and `language` (default "en"; empty lets the server guess).
    """

    name = "openai"
    OPTIONS = ("base_url", "model", "api_key", "timeout_s", "language")

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        language: str = "en",
    ):
        base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"the openai speech recognizer needs an http(s) base URL, got {base_url!r}")
        # Credentials in the URL go in a header (urllib would take them for part of the host name), never in errors.
        self.endpoint = parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl() + _PATH
        self._basic, self._secrets = None, []
        if parsed.username is not None:
            user, password = urllib.parse.unquote(parsed.username), urllib.parse.unquote(parsed.password or "")
            self._basic = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._secrets.append(password)
        self.model = model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
        self._api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
        self._secrets = [secret for secret in (*self._secrets, self._api_key) if secret]
        if not self._api_key and parsed.hostname == "api.openai.com":
            raise RuntimeError(f"the openai speech recognizer needs an API key for {base_url}: set {API_KEY_ENV}")
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s!r}")
        self.timeout_s = float(timeout_s)
        if not isinstance(language, str) or (language and not language.isalpha()):
            raise ValueError(f"language must be a language code such as 'en' (or empty), got {language!r}")
        self.language = language.lower()

    def __repr__(self) -> str:  # never the key
        return f"OpenAITranscriber(endpoint={self.endpoint!r}, model={self.model!r})"

    def _fail(self, what: str) -> RuntimeError:
        text = f"the openai speech recognizer: {what} ({self.endpoint})"
        for secret in self._secrets:  # a server may echo what it was sent
            text = text.replace(secret, "***")
        return RuntimeError(text)

    def request(self, samples: np.ndarray, prompt: str = "") -> urllib.request.Request:
        """The HTTP request that transcribes `samples` (checked int16 16 kHz audio)."""
        fields = {"model": self.model, "response_format": "json"}
        if self.language:
            fields["language"] = self.language
        if prompt:
            fields["prompt"] = prompt
        body, content_type = multipart_form(fields, {"file": ("utterance.wav", "audio/wav", wav_bytes(samples))})
        headers = {
            "Content-Type": content_type,
            "Accept": "application/json",
            "User-Agent": f"eai-avatar/{__version__}",
        }
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        elif self._basic:
            headers["Authorization"] = f"Basic {self._basic}"
        return urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")

    def _post(self, request: urllib.request.Request) -> bytes:
        """The reply's body; RuntimeError naming the endpoint for anything but a 2xx answer in time."""
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                detail = _error_detail(exc.read(4096))
            raise self._fail(f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else "")) from None
        except (OSError, http.client.HTTPException) as exc:  # URLError and TimeoutError are OSErrors
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, TimeoutError):  # a connect timeout arrives wrapped in a URLError
                raise self._fail(f"no answer within {self.timeout_s:g} s") from None
            raise self._fail(f"cannot connect: {reason}") from None

    def _recognize(self, samples: np.ndarray, prompt: str) -> Transcript:
        raw = self._post(self.request(samples, prompt))
        try:
            reply = json.loads(raw)
            text = reply["text"]
        except (ValueError, KeyError, TypeError):
            raise self._fail(f"malformed reply: expected JSON with a 'text', got {raw[:100]!r}") from None
        if not isinstance(text, str):
            raise self._fail(f"malformed reply: 'text' is {type(text).__name__}, not a string")
        language = reply.get("language") if isinstance(reply.get("language"), str) else None
        return Transcript(" ".join(text.split()), language=language or self.language or "en")


def _error_detail(body: bytes) -> str:
    """The message of an error reply (OpenAI's {"error": {"message": ...}}, else the body), on one short line."""
    detail = body.decode("utf-8", "replace")
    try:
        detail = json.loads(detail)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        pass
    return " ".join(str(detail).split())[:_ERROR_BODY_CHARS]
