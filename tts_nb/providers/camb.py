"""CAMB.AI's client, `tn.Camb`: speech, translated speech and voices designed from a
description, checked before anything is sent.

``tts`` uses CAMB's current endpoint, ``POST /tts-stream`` (`camb_stream`), unless asked for
the deprecated task flow with ``stream=False``; ``translated_tts`` and ``text_to_voice`` are
tasks (`camb_protocol`: create → poll by ``task_id`` → results by ``run_id``). A designed
voice is kept with ``POST /create-custom-voice`` (`Camb.keep_voice`), as CAMB documents;
until then a preview has no voice id. Voice and language names are resolved by
`camb_catalogue`.

The protocol's names (`TaskId`, `RunId`, `read_status`, the Operations…) are importable from
here too, as they always were.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ..adapters import CAMB as CAMB_ADAPTER
from ..clip import Clip
from ..errors import AuthError, InvalidInput, NotFound, ProviderError
from ..job import Job, Operation
from ..policy import PollPolicy, Progressive
from ._single_key import SingleKeyClient
from .camb_catalogue import CambCatalogue, resolve_language
from .camb_protocol import (
    HINTS,
    PROVIDER,
    REASON_ADVICE,
    STATUS,
    SWAP_HINT,
    RunId,
    TaskId,
    TextToVoiceOperation,
    TtsOperation,
    as_int,
    describe_error,
    expired_link,
    is_int,
    json_or_none,
    read_status,
    run_path,
    stored_ids,
    task_path,
)
from .camb_stream import NO_RESUME, StreamOperation, stream_options, stream_text

__all__ = [
    "HINTS",
    "PROVIDER",
    "REASON_ADVICE",
    "STATUS",
    "SWAP_HINT",
    "Camb",
    "RunId",
    "TaskId",
    "TextToVoiceOperation",
    "TtsOperation",
    "describe_error",
    "expired_link",
    "read_status",
    "resolve_language",
    "run_path",
    "stored_ids",
    "task_path",
]

GENDERS = {"not_known": 0, "male": 1, "female": 2, "not_applicable": 9}
FORMALITIES = {"formal": 1, "informal": 2}
MIN_DESCRIPTION_WORDS = 18
MIN_DESCRIPTION_CHARS = 100


class Camb(SingleKeyClient, CambCatalogue):
    """CAMB.AI: speech, translated speech and voices designed from a description.

    Args:
        api_key: default ``CAMB_API_KEY`` (or a ``.env`` file). Without one, the embedded
            simulator is used and a banner says so.
        base_url: default ``TTS_NB_CAMB_URL``, else https://client.camb.ai/apis.
        policy: how to poll; default `Progressive` (long waits first, as CAMB advises).
        min_interval: the fastest polling allowed; 3 s, CAMB's own lower bound.

    Example:
        >>> camb = tn.Camb()
        >>> job = camb.translated_tts("Good morning", voice_id=147320,
        ...                           source_language="en-us", target_language="fr-fr")
        >>> job.wait(600).text
    """

    provider = PROVIDER
    label = "CAMB.AI"
    key_variables = ("CAMB_API_KEY",)
    real_url = "https://client.camb.ai/apis"
    url_env = "TTS_NB_CAMB_URL"
    secret_headers = {"x-api-key": "$CAMB_API_KEY"}
    adapter = CAMB_ADAPTER
    key_header = "x-api-key"
    default_min_interval = 3.0
    default_timeout = 30 * 60.0
    # Most tasks take 2–5 minutes: look after a minute, then more and more often, never
    # faster than every 5 s (CAMB: "avoid polling more frequently than every 3-5 seconds").
    default_policy: PollPolicy = Progressive(schedule=(60.0, 30.0, 20.0, 10.0, 5.0))
    duration_prior = (100.0, 1.2)

    def _describe_error(self, response) -> str | None:
        """CAMB's two error shapes, in one sentence, plus what to do."""
        return describe_error(response.status_code, json_or_none(response))

    # ------------------------------------------------------------------ public
    def tts(
        self,
        text: str,
        voice_id: int | str,
        language: int | str = "en-us",
        *,
        speech_model: str | None = None,
        output_format: str | None = None,
        user_instructions: str | None = None,
        stream: bool = True,
        gender: int | str | None = None,
        age: int | None = None,
        project_name: str | None = None,
        project_description: str | None = None,
        folder_id: int | None = None,
        policy: PollPolicy | None = None,
        force: bool = False,
    ) -> Job:
        """Speak `text` with a voice; returns a `Job` whose result is a `Clip`.

        By default this uses CAMB's current endpoint, ``POST /tts-stream``: the audio comes in
        the answer, so the job finishes with its submit (no polling), and the credits it cost
        (``X-Credits-Required``) are in ``clip.meta["credits_required"]`` and the history.

        Args:
            text: what to say, 3 to 3000 characters (checked before sending).
            voice_id: an integer id from `voices()` (or one `keep_voice` returned), or a
                voice's name.
            language: a BCP-47 locale ("en-us"), or an id, name or code from `languages()`
                (1, "English", "French (France)"), resolved to the locale the endpoint wants.
            speech_model: one of "mars-flash", "mars-pro", "mars-instruct",
                "mars-8.1-flash-beta", "mars-8.1-pro-beta" (default: CAMB's).
            output_format: "wav" (default: lossless, plays everywhere), "flac" or "mp3".
            user_instructions: how to deliver the text (for "mars-instruct").
            stream: False uses the deprecated task flow (``POST /tts`` → poll →
                ``/tts-result``, FLAC) for accounts where it still runs; only that flow takes
                gender, age, project_name, project_description and folder_id.
            policy: how to poll (the task flow only).
            force: submit even if an identical request is running or already succeeded
                (otherwise that job or its stored result comes back, and nothing is charged).

        Raises:
            InvalidInput: before any request, naming the field and the fix.
        """
        if stream:
            task_only = _given(
                gender=gender,
                age=age,
                project_name=project_name,
                project_description=project_description,
                folder_id=folder_id,
            )
            if task_only:
                raise InvalidInput(
                    f"{', '.join(task_only)} belong(s) to CAMB's deprecated task flow, which "
                    "/tts-stream does not take: pass stream=False to use them.",
                    provider=PROVIDER,
                )
            body = {
                "text": stream_text(text),
                "language": self._stream_locale(language),
                "voice_id": self._resolve_voice(voice_id),
                **stream_options(speech_model, output_format, user_instructions),
            }
            return self._start_speech(StreamOperation, body, policy, force)
        stream_only = _given(
            speech_model=speech_model,
            output_format=output_format,
            user_instructions=user_instructions,
        )
        if stream_only:
            raise InvalidInput(
                f"{', '.join(stream_only)} belong(s) to /tts-stream: drop stream=False.",
                provider=PROVIDER,
            )
        body = {
            "text": _text(text),
            "voice_id": self._resolve_voice(voice_id),
            "language": self._resolve_language(language, "source", "language"),
            **_optional(gender=gender, age=age, folder_id=folder_id),
            **_project(project_name, project_description),
        }
        return self._start_speech(partial(TtsOperation, "tts"), body, policy, force)

    def keep_voice(
        self,
        preview: Clip | str,
        *,
        name: str,
        gender: int | str,
        age: int | None = None,
        language: int | str | None = None,
        description: str | None = None,
    ) -> int:
        """Keep a designed voice: upload a `text_to_voice` preview (its clip, or its URL) with
        ``POST /create-custom-voice``, CAMB's way to make a voice of it; returns its voice id.

        The preview clip's ``meta["voice_id"]`` is set to the new id, and the voice appears in
        `voices()`. Nothing else keeps a preview: it is only a sample until this call.

        Args:
            preview: a preview `Clip` (from ``text_to_voice(...).wait()``) or its URL.
            name: the voice's name in your CAMB.AI library.
            gender: "male", "female", "not_known", "not_applicable" (or 1, 2, 0, 9).
            age, language, description: optional; the description defaults to the one the
                preview was designed from.

        Raises:
            InvalidInput: a missing name or gender, or a preview that is not audio.
            ExpiredResult: the preview's link has expired (design again).
        """
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("name is missing: give the voice a name.", provider=PROVIDER)
        if isinstance(preview, str):
            try:
                response = self.transport.request("GET", preview, step="catalogue", authed=False)
            except (AuthError, NotFound, InvalidInput) as exc:
                raise expired_link(exc, "this preview link") from None
            preview = Clip.from_bytes(
                response.content, content_type=response.headers.get("Content-Type")
            )
        if not isinstance(preview, Clip):
            raise InvalidInput(
                "preview must be a Clip from text_to_voice(...).wait() or a preview URL.",
                provider=PROVIDER,
            )
        fields: dict[str, Any] = {"voice_name": name.strip()}
        fields.update(_optional(gender=gender, age=age))
        description = description or preview.meta.get("voice_description")
        if description:
            fields["description"] = str(description)
        if language is not None:
            fields["language"] = self._resolve_language(language, "source", "language")
        voice_id = self._upload_voice(fields, preview)
        preview.meta["voice_id"] = voice_id
        self._voices = None  # the catalogue now holds the kept voice
        return voice_id

    def _upload_voice(self, fields: Mapping[str, Any], preview: Clip) -> int:
        """The multipart ``POST /create-custom-voice`` request (never sent twice by itself)."""
        files = {"file": (f"preview.{preview.format}", preview.data, preview.mimetype)}
        try:
            response = self.transport.request(
                "POST",
                "/create-custom-voice",
                step="keep voice",
                form={k: str(v) for k, v in fields.items()},
                files=files,
            )
        except ProviderError as exc:
            if not exc.maybe_sent:
                raise
            raise ProviderError(
                f"{exc} The voice may have been created: look at camb.voices() before trying "
                "again.",
                provider=PROVIDER,
                maybe_sent=True,
            ) from None
        data = self.transport.json_of(response)
        voice_id = as_int(data.get("voice_id") if isinstance(data, dict) else None)
        if voice_id is None:
            raise ProviderError(
                f"camb: the create-custom-voice answer has no voice_id: {str(data)[:200]!r}.",
                provider=PROVIDER,
            )
        return voice_id

    def translated_tts(
        self,
        text: str,
        voice_id: int | str,
        source_language: int | str,
        target_language: int | str,
        *,
        formality: int | str | None = None,
        gender: int | str | None = None,
        age: int | None = None,
        chosen_dictionaries: list[int] | None = None,
        project_name: str | None = None,
        project_description: str | None = None,
        folder_id: int | None = None,
        policy: PollPolicy | None = None,
        force: bool = False,
    ) -> Job:
        """Translate `text` and speak the translation; the `Clip`'s ``text`` is the translation.

        Args:
            text: the text in the source language.
            voice_id: an integer id from `voices()`, or a voice's name.
            source_language, target_language: integer ids, or names or codes from
                `languages()`.
            formality: "formal"/"informal" (or 1/2).
            gender, age, chosen_dictionaries: as CAMB documents them.
            policy, force: as for `tts`.

        Raises:
            InvalidInput: before any request, naming the field and the fix.
        """
        if chosen_dictionaries is not None and not (
            isinstance(chosen_dictionaries, (list, tuple))
            and all(is_int(d) for d in chosen_dictionaries)
        ):
            raise InvalidInput(
                "chosen_dictionaries must be a list of integer dictionary ids.", provider=PROVIDER
            )
        body = {
            "text": _text(text),
            "voice_id": self._resolve_voice(voice_id),
            "source_language": self._resolve_language(source_language, "source", "source_language"),
            "target_language": self._resolve_language(target_language, "target", "target_language"),
            **_optional(gender=gender, age=age, folder_id=folder_id, formality=formality),
            **_project(project_name, project_description),
        }
        if chosen_dictionaries is not None:
            body["chosen_dictionaries"] = list(chosen_dictionaries)
        return self._start_speech(partial(TtsOperation, "translated-tts"), body, policy, force)

    def text_to_voice(
        self,
        text: str,
        voice_description: str,
        *,
        project_name: str | None = None,
        project_description: str | None = None,
        folder_id: int | None = None,
        policy: PollPolicy | None = None,
        force: bool = False,
    ) -> Job:
        """Design voices from a description; the result is a list of preview `Clip`s.

        Each preview speaks `text`. A preview is not a voice yet: its ``meta["voice_id"]`` is
        None until you keep it with ``camb.keep_voice(preview, name=…, gender=…)``, which
        returns the id to pass to `tts`. `policy` and `force` are as for `tts`.

        Raises:
            InvalidInput: the description is shorter than CAMB's minimum (18 words and 100
                characters), checked before anything is sent.
        """
        if not isinstance(voice_description, str):
            raise InvalidInput("voice_description must be a string.", provider=PROVIDER)
        words, chars = len(voice_description.split()), len(voice_description.strip())
        if words < MIN_DESCRIPTION_WORDS or chars < MIN_DESCRIPTION_CHARS:
            raise InvalidInput(
                f"voice_description is too short ({words} words, {chars} characters): CAMB.AI "
                f"needs at least {MIN_DESCRIPTION_WORDS} words ({MIN_DESCRIPTION_CHARS}+ "
                "characters) and does not process shorter ones. Describe gender and age, "
                "accent, tone, pace and where the voice would fit.",
                provider=PROVIDER,
            )
        body = {
            "text": _text(text),
            "voice_description": voice_description.strip(),
            **_optional(folder_id=folder_id),
            **_project(project_name, project_description),
        }
        operation = TextToVoiceOperation(body)
        request = {**body, "voice": "designed"}
        return self._start(
            operation, policy=policy, request=request, text=body["text"], force=force
        )

    def _start_speech(
        self,
        operation: Callable[..., Operation],
        body: dict[str, Any],
        policy: PollPolicy | None,
        force: bool,
    ) -> Job:
        """Start a speech job for a checked `body`: its voice is named by the catalogue (for
        labels and the request summary), then ``operation(body, voice=…)`` is started."""
        voice = self._voice_name(body["voice_id"])
        return self._start(
            operation(body, voice=f"camb:{voice}"),
            policy=policy,
            request={**body, "voice": voice},
            text=body["text"],
            force=force,
        )

    def _rebuild_operation(
        self, kind: str, body: Mapping[str, Any], request: Mapping[str, Any]
    ) -> TtsOperation | TextToVoiceOperation:
        """A recorded job's protocol half, so `tn.resume()` can poll it again."""
        if kind in ("tts", "translated-tts") and isinstance(body, Mapping):
            voice = request.get("voice") or body.get("voice_id")
            return TtsOperation(kind, body, voice=f"camb:{voice}")
        if kind == "text-to-voice" and isinstance(body, Mapping):
            return TextToVoiceOperation(body)
        if kind == StreamOperation.kind:
            raise InvalidInput(NO_RESUME, provider=PROVIDER)
        raise InvalidInput(f"camb cannot resume a {kind!r} job.", provider=PROVIDER)


def _given(**options: Any) -> list[str]:
    """The names of the options that were passed (not None)."""
    return [name for name, value in options.items() if value is not None]


def _text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("text is empty: give the text to speak.", provider=PROVIDER)
    return text.strip()


def _optional(**fields: Any) -> dict[str, int]:
    """gender/formality by name or code, and positive integers, checked before sending."""
    body = {}
    for name, value in fields.items():
        if value is None:
            continue
        names = {"gender": GENDERS, "formality": FORMALITIES}.get(name)
        if names is not None and isinstance(value, str):
            if value.strip().lower() not in names:
                raise InvalidInput(
                    f"{name}={value!r} is not known: use one of {', '.join(names)}.",
                    provider=PROVIDER,
                )
            value = names[value.strip().lower()]
        if not is_int(value) or (names is not None and value not in names.values()):
            allowed = f"one of {', '.join(names)}" if names else "a positive integer"
            raise InvalidInput(f"{name} must be {allowed}.", provider=PROVIDER)
        if names is None and value < 0:
            raise InvalidInput(f"{name} must be a positive integer.", provider=PROVIDER)
        body[name] = value
    return body


def _project(name: str | None, description: str | None) -> dict[str, str]:
    body = {}
    for field, value in (("project_name", name), ("project_description", description)):
        if value is not None:
            if not isinstance(value, str):
                raise InvalidInput(f"{field} must be a string.", provider=PROVIDER)
            body[field] = value
    return body
