"""Any OpenAI-compatible chat completions endpoint as a dialogue backend: OpenAI, vLLM, llama.cpp's server, Ollama.

Only the standard library speaks HTTP here. The request streams (`stream: true`): the reply arrives as server-sent
events, `data: {json}` lines closed by `data: [DONE]`, whose text deltas `stream_line` yields as they come, so
speech synthesis can start before the model has finished the line.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator

from eai_avatar.runtime.dialogue.base import DialogueBackend, DialogueContext, DialogueLine
from eai_avatar.runtime.dialogue.prompt import DEFAULT_MAX_HISTORY, build_messages, clean_stream
from eai_avatar.version import __version__

logger = logging.getLogger(__name__)

BASE_URL_ENV = "EAI_AVATAR_OPENAI_BASE_URL"
MODEL_ENV = "EAI_AVATAR_OPENAI_MODEL"
API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT_S = 30.0
#: Enough tokens for a 30-word line with room to spare; the cap keeps a rambling model from stalling the turn.
DEFAULT_MAX_TOKENS = 96
DEFAULT_TEMPERATURE = 0.8
_ERROR_BODY_CHARS = 300


def iter_sse_data(lines: Iterable[bytes]) -> Iterator[str]:
    """The data of each server-sent event in `lines` (raw lines of the body), until `data: [DONE]` or the end.

    Follows the event-stream format: events end at a blank line, several `data:` lines of one event join with
    newlines, lines starting with ":" are comments and other fields (event, id, retry) are ignored.
    """
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith(":"):
            continue
        if line:
            field, _, value = line.partition(":")
            if field == "data":
                data.append(value[1:] if value.startswith(" ") else value)
            continue
        if data:
            payload, data = "\n".join(data), []
            if payload.strip() == "[DONE]":
                return
            yield payload
    if data and "\n".join(data).strip() != "[DONE]":
        yield "\n".join(data)


class OpenAIBackend(DialogueBackend):
    """Lines from a chat model behind `POST {base_url}/chat/completions`.

    Options (each falls back to the environment): `base_url` ($EAI_AVATAR_OPENAI_BASE_URL, default the OpenAI
    API), `model` ($EAI_AVATAR_OPENAI_MODEL, required), `api_key` ($OPENAI_API_KEY; local servers need none),
    `timeout_s` (per connect and per read, default 30), `temperature`, `max_tokens` (None leaves it to the
    server) and `max_history` (lines of history sent).
    """

    name = "openai"
    OPTIONS = ("base_url", "model", "api_key", "timeout_s", "temperature", "max_tokens", "max_history")

    def __init__(
        self,
        topic: str = "",
        seed: int | None = None,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        temperature: float = DEFAULT_TEMPERATURE,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        max_history: int = DEFAULT_MAX_HISTORY,
    ):
        self.topic = topic or ""
        self.seed = seed
        base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"the openai dialogue backend needs an http(s) base URL, got {base_url!r}")
        self.endpoint = base_url + "/chat/completions"
        # Errors name the endpoint; credentials in the URL stay out of them.
        netloc = parsed.netloc.rpartition("@")[2]
        self._shown_endpoint = urllib.parse.urlunsplit(parsed._replace(netloc=netloc)) + "/chat/completions"
        self.model = model or os.environ.get(MODEL_ENV, "")
        if not self.model:
            raise RuntimeError(
                f"the openai dialogue backend needs a model: pass model=... or set {MODEL_ENV} "
                "(e.g. gpt-4o-mini, or the model name your vLLM / llama.cpp / Ollama server serves)"
            )
        self._api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
        if not self._api_key and parsed.hostname == "api.openai.com":
            raise RuntimeError(f"the openai dialogue backend needs an API key for {base_url}: set {API_KEY_ENV}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s!r}")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1 or None, got {max_tokens!r}")
        self.timeout_s = float(timeout_s)
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self.max_history = max_history

    def __repr__(self) -> str:  # never the key
        return f"OpenAIBackend(endpoint={self._shown_endpoint!r}, model={self.model!r})"

    def request_body(self, context: DialogueContext) -> dict:
        body = {
            "model": self.model,
            "messages": build_messages(context, self.topic, self.max_history),
            "stream": True,
            "temperature": self.temperature,
        }
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.seed is not None:
            body["seed"] = self.seed
        return body

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _fail(self, what: str) -> RuntimeError:
        return RuntimeError(self._redact(f"the openai dialogue backend: {what} ({self._shown_endpoint})"))

    def _open(self, context: DialogueContext) -> http.client.HTTPResponse:
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "User-Agent": f"eai-avatar/{__version__}",
        }
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        data = json.dumps(self.request_body(context)).encode("utf-8")
        request = urllib.request.Request(self.endpoint, data=data, headers=headers, method="POST")
        try:
            return urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read(4096).decode("utf-8", "replace")
            try:
                detail = json.loads(detail)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                pass
            detail = " ".join(str(detail).split())[:_ERROR_BODY_CHARS]
            raise self._fail(f"HTTP {exc.code} {exc.reason}: {detail}" if detail else f"HTTP {exc.code}") from None
        except TimeoutError:
            raise self._fail(f"no answer within {self.timeout_s:g} s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):  # a connect timeout arrives wrapped
                raise self._fail(f"no answer within {self.timeout_s:g} s") from None
            raise self._fail(f"cannot connect: {exc.reason}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._fail(f"request failed: {exc}") from None

    def _deltas(self, response: http.client.HTTPResponse) -> Iterator[str]:
        try:
            if response.headers.get_content_type() == "application/json":
                # A server that ignores `stream` answers with one JSON body; take its message whole.
                body = json.loads(response.read())
                yield from self._contents(body, message=True)
                return
            for payload in iter_sse_data(response):
                yield from self._contents(json.loads(payload), message=False)
        except TimeoutError:
            raise self._fail(f"the stream stalled for {self.timeout_s:g} s") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._fail(f"malformed reply: {exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._fail(f"the stream broke: {exc}") from None

    def _contents(self, chunk: object, message: bool) -> Iterator[str]:
        if not isinstance(chunk, dict):
            raise ValueError(f"expected a JSON object, got {chunk!r:.100}")
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise self._fail(f"error in the stream: {message}")
        choices = chunk.get("choices") or []
        if choices and isinstance(choices[0], dict):
            content = (choices[0].get("message" if message else "delta") or {}).get("content")
            if isinstance(content, str) and content:
                yield content

    def stream_line(self, context: DialogueContext) -> Iterator[str]:
        with self._open(context) as response:
            yield from clean_stream(self._deltas(response), context, self.name)

    def next_line(self, context: DialogueContext) -> DialogueLine:
        text = "".join(self.stream_line(context)).strip()
        return DialogueLine(speaker=context.next_speaker, text=text)
