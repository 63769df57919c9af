"""CAMB.AI's task API: create a task → poll it by ``task_id`` → fetch results by ``run_id``.

The protocol, as CAMB's documents and SDK show it (base https://client.camb.ai/apis):

* auth: the ``x-api-key`` header, sent to CAMB's origin only (never to a preview URL, never
  across a redirect: the transport adds it per request for the API's own origin);
* ``POST /tts`` | ``/translated-tts`` | ``/text-to-voice`` → ``{"task_id": "<string>"}``;
* ``GET /<kind>/{task_id}`` → ``{"status", "run_id"}`` with status ``PENDING`` → ``SUCCESS`` |
  ``ERROR`` | ``TIMEOUT`` | ``PAYMENT_REQUIRED`` (the SDK adds ``message`` and
  ``exception_reason``); CAMB asks for progressive polling, never faster than every 3–5 s, and
  says most tasks finish in 2–5 minutes;
* results by the integer ``run_id``: ``/tts-result/{run_id}`` (audio, FLAC today although an
  older page said WAV: the bytes are sniffed), ``/translation-result/{run_id}`` →
  ``{"texts": [...]}``, ``/text-to-voice-result/{run_id}`` → ``{"previews": [url, …]}``;
* errors: FastAPI's ``{"detail": [{"loc", "msg", "type"}]}`` (422) and
  ``{"error": "...", "status": 401}``.

``tts`` uses the current endpoint, ``POST /tts-stream`` (see `camb_stream`), unless asked for
the deprecated task flow with ``stream=False``. A designed voice is kept with
``POST /create-custom-voice`` (`Camb.keep_voice`), as CAMB documents; until then a preview has
no voice id.

Status answers are read as tolerantly as camb-sdk reads them (``types/orchestrator_pipeline_
result.py``): ``run_id`` is ``Optional[int]`` (pydantic turns ``"123"`` into 123), ``message`` is
``str | dict``, and ``status`` is ``Literal[...] | Any``.

Mixing up ``task_id`` and ``run_id`` is the classic mistake with this API (a 422 from
``/tts-result/<task id>``), so the two are distinct types here, `TaskId` and `RunId`, and the
path builders refuse the wrong one.
"""

from __future__ import annotations

import difflib
import json
import numbers
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..client import Client, resolve_single_key
from ..clip import Clip
from ..errors import (
    AuthError,
    ExpiredResult,
    InvalidInput,
    NotFound,
    ProviderError,
    TTSError,
)
from ..job import Call, Job, Observation
from ..policy import PollPolicy, Progressive
from ..state import State
from .camb_stream import (
    NO_RESUME,
    STREAM_LOCALES,
    StreamOperation,
    stream_options,
    stream_text,
)

PROVIDER = "camb"
STATUS = {
    "SUCCESS": State.SUCCEEDED,
    "PENDING": State.RUNNING,
    "TIMEOUT": State.TIMED_OUT,
    "ERROR": State.FAILED,
    "PAYMENT_REQUIRED": State.PAYMENT_REQUIRED,
    # Not in CAMB's documents: third-party clients check these words, and without them a job
    # would poll until its deadline (../shared/notes/fidelity-review.md, "Differences that
    # could break real users" item 4). FAILED ends like ERROR, COMPLETED like SUCCESS.
    "FAILED": State.FAILED,
    "COMPLETED": State.SUCCEEDED,
}
GENDERS = {"not_known": 0, "male": 1, "female": 2, "not_applicable": 9}
FORMALITIES = {"formal": 1, "informal": 2}
MIN_DESCRIPTION_WORDS = 18
MIN_DESCRIPTION_CHARS = 100
REASON_ADVICE = {
    "HARMFUL_CONTENT_DETECTED": "CAMB.AI flagged the content: rephrase the text.",
    "SOURCE_TOO_LONG": "The text is too long: split it into shorter segments.",
    "FORBIDDEN": "This key may not do this: check the plan and the key's permissions.",
    "PAYMENT_REQUIRED": "Add credits on your CAMB.AI account's billing page.",
}
HINTS = {
    401: "Check CAMB_API_KEY: copy the key from the 'API' section of CAMB.AI studio, without "
    "spaces or newlines.",
    403: "This key may not use this endpoint: check your CAMB.AI plan and the key's permissions.",
    402: "Your CAMB.AI account has too few credits: add credits on the billing page.",
    429: "CAMB.AI's rate limit was reached: wait a little, and poll no faster than every 3–5 s.",
}
SWAP_HINT = (
    "A run_id must be the integer from a SUCCESS status, not the task_id string from the create "
    "call (the classic mix-up with this API)."
)


class TaskId(str):
    """A CAMB task id (the string a create call returns). It polls a status, nothing else."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"TaskId({str(self)!r})"


class RunId(int):
    """A CAMB run id (the integer a SUCCESS status carries). It fetches results, nothing else."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"RunId({int(self)})"

    def __str__(self) -> str:  # int's str() would fall back to the repr above
        return int.__repr__(self)


def stored_ids(ids: Mapping[str, Any]) -> tuple[TaskId, RunId | None]:
    """A job's ids with their types, also when they come back from the ledger as plain JSON
    (a resumed job): each is re-typed by the name it was stored under, never by its look."""
    task_id, run_id = ids["task_id"], ids.get("run_id")
    if not isinstance(task_id, str):
        raise TypeError(f"a stored task_id must be a string, got {task_id!r}. {SWAP_HINT}")
    if run_id is not None and not _is_int(run_id):
        raise TypeError(f"a stored run_id must be an integer, got {run_id!r}. {SWAP_HINT}")
    return TaskId(task_id), (None if run_id is None else RunId(run_id))


def task_path(kind: str, task_id: TaskId) -> str:
    """``/<kind>/{task_id}``: refuses anything that is not a `TaskId`."""
    if not isinstance(task_id, TaskId):
        raise TypeError(f"{kind} status needs a TaskId, got {task_id!r}. {SWAP_HINT}")
    return f"/{kind}/{task_id}"


def run_path(endpoint: str, run_id: RunId) -> str:
    """``/<endpoint>/{run_id}``: refuses anything that is not a `RunId`."""
    if not isinstance(run_id, RunId):
        raise TypeError(f"{endpoint} needs a RunId, got {run_id!r}. {SWAP_HINT}")
    return f"/{endpoint}/{int(run_id)}"


class Camb(Client):
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
    real_url = "https://client.camb.ai/apis"
    url_env = "TTS_NB_CAMB_URL"
    default_min_interval = 3.0
    default_timeout = 30 * 60.0
    # Most tasks take 2–5 minutes: look after a minute, then more and more often, never
    # faster than every 5 s (CAMB: "avoid polling more frequently than every 3-5 seconds").
    default_policy: PollPolicy = Progressive(schedule=(60.0, 30.0, 20.0, 10.0, 5.0))
    duration_prior = (120.0, 1.0)

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        policy: PollPolicy | None = None,
        min_interval: float | None = None,
        **options: Any,
    ) -> None:
        url, key, simulated = resolve_single_key(
            PROVIDER,
            api_key=api_key,
            key_env="CAMB_API_KEY",
            base_url=base_url,
            url_env=self.url_env,
            real_url=self.real_url,
        )
        self._key = key
        self._voices: list[dict[str, Any]] | None = None
        self._languages: dict[str, list[dict[str, Any]]] = {}
        super().__init__(
            base_url=url, simulated=simulated, policy=policy, min_interval=min_interval, **options
        )

    # ---------------------------------------------------------------- plumbing
    def _auth_headers(self) -> dict[str, str]:
        if self._key is None:
            raise AuthError(
                "No CAMB.AI API key: pass api_key= or set CAMB_API_KEY.", provider=PROVIDER
            )
        return {"x-api-key": self._key.reveal()}

    def _secret_values(self) -> Iterable[str]:
        return (self._key.reveal(),) if self._key else ()

    def _describe_error(self, response) -> str | None:
        """CAMB's two error shapes, in one sentence, plus what to do."""
        return describe_error(response.status_code, _json_or_none(response))

    # ------------------------------------------------------------------ public
    def voices(self):
        """The voices this key can use, as a DataFrame (voice_id, voice_name, gender, age…).

        Voices kept with `keep_voice` appear here too.
        """
        import pandas as pd

        self._voices = None  # always fresh: kept voices join the list
        columns = ["voice_id", "voice_name", "gender", "age", "language", "description"]
        rows = [
            {"voice_id": v["id"], **{c: v.get(c) for c in columns[1:]}} for v in self._voice_list()
        ]
        return pd.DataFrame(rows, columns=columns)

    def languages(self):
        """CAMB's languages as a DataFrame: id, language, short_name, and whether each may be
        a source (``/source-languages``) and a target (``/target-languages``)."""
        import pandas as pd

        rows: dict[int, dict[str, Any]] = {}
        for which in ("source", "target"):
            for item in self._language_list(which):
                row = rows.setdefault(item["id"], {**item, "source": False, "target": False})
                row[which] = True
        columns = ["id", "language", "short_name", "source", "target"]
        return pd.DataFrame(list(rows.values()), columns=columns)

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
            voice = self._voice_name(body["voice_id"])
            operation = StreamOperation(body, voice=f"camb:{voice}")
            return self._start(
                operation,
                policy=policy,
                request={**body, "voice": voice},
                text=body["text"],
                force=force,
            )
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
        voice = self._voice_name(body["voice_id"])
        operation = TtsOperation("tts", body, voice=f"camb:{voice}")
        request = {**body, "voice": voice}
        return self._start(
            operation, policy=policy, request=request, text=body["text"], force=force
        )

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
        voice_id = _as_int(data.get("voice_id") if isinstance(data, dict) else None)
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
            and all(_is_int(d) for d in chosen_dictionaries)
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
        voice = self._voice_name(body["voice_id"])
        operation = TtsOperation("translated-tts", body, voice=f"camb:{voice}")
        request = {**body, "voice": voice}
        return self._start(
            operation, policy=policy, request=request, text=body["text"], force=force
        )

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

    # ------------------------------------------------------------- catalogues
    def _voice_list(self) -> list[dict[str, Any]]:
        if self._voices is None:
            data = self.transport.json_of(
                self.transport.request("GET", "/list-voices", step="catalogue")
            )
            if not isinstance(data, list):
                raise ProviderError(
                    f"camb: unexpected voice list {str(data)[:200]!r}.", provider=PROVIDER
                )
            self._voices = [v for v in data if isinstance(v, dict) and _is_int(v.get("id"))]
        return self._voices

    def _language_list(self, which: str) -> list[dict[str, Any]]:
        if which not in self._languages:
            path = f"/{which}-languages"
            data = self.transport.json_of(self.transport.request("GET", path, step="catalogue"))
            if not isinstance(data, list):
                raise ProviderError(
                    f"camb: unexpected {which} language list {str(data)[:200]!r}.",
                    provider=PROVIDER,
                )
            self._languages[which] = [
                {
                    "id": item["id"],
                    "language": str(item.get("language") or ""),
                    "short_name": str(item.get("short_name") or ""),
                }
                for item in data
                if isinstance(item, dict) and _is_int(item.get("id"))
            ]
        return self._languages[which]

    def _resolve_voice(self, voice: int | str) -> int:
        """An integer id passes as is; a name (or digits) is looked up in the voice list."""
        if _is_int(voice):
            return int(voice)
        if not isinstance(voice, str) or not voice.strip():
            raise InvalidInput(
                "voice_id is missing: pick an integer id from camb.voices().", provider=PROVIDER
            )
        voice = voice.strip()
        if voice.isdigit():
            return int(voice)
        by_name = {str(v.get("voice_name", "")).lower(): v["id"] for v in self._voice_list()}
        if voice.lower() in by_name:
            return by_name[voice.lower()]
        close = difflib.get_close_matches(voice.lower(), list(by_name), n=3)
        hint = f" Close names: {', '.join(close)}." if close else ""
        raise InvalidInput(
            f"voice_id {voice!r} is neither an integer voice id nor a voice's name.{hint} "
            "See camb.voices().",
            provider=PROVIDER,
        )

    def _voice_name(self, voice_id: int) -> str:
        """The voice's name for labels (one cached catalogue request), else its id."""
        try:
            voices = self._voice_list()
        except TTSError:  # a label is not worth failing for; the job reports real problems
            return str(voice_id)
        for voice in voices:
            if voice["id"] == voice_id:
                return str(voice.get("voice_name") or voice_id)
        return str(voice_id)

    def _stream_locale(self, value: int | str) -> str:
        """The BCP-47 locale /tts-stream wants, from a locale, or an id, name or code of
        `languages()`. A name that matches several languages picks the one the endpoint
        supports ("English" → "en-us" when "en-gb" is not streamable). A locale the endpoint
        does not list is still sent: its 422 names the supported ones (the SDK sends any)."""
        if isinstance(value, str) and value.strip().lower().replace("_", "-") in STREAM_LOCALES:
            return value.strip().lower().replace("_", "-")
        languages = self._language_list("source")
        if _as_int(value) is None:
            streamable = [x for x in languages if x["short_name"].lower() in STREAM_LOCALES]
            try:
                value = resolve_language(str(value), streamable, "streaming", "language")
            except InvalidInput:
                value = self._resolve_language(value, "source", "language")
        wanted = _as_int(value)
        for item in languages:
            if item["id"] == wanted:
                return item["short_name"].lower()
        raise InvalidInput(
            f"language={value!r} is not one of CAMB.AI's languages. See camb.languages().",
            provider=PROVIDER,
        )

    def _resolve_language(self, value: int | str, which: str, field: str) -> int:
        """CAMB wants integer ids; names and codes are resolved through its own list."""
        if _is_int(value):
            return int(value)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(
                f"{field} is missing: give an id, code or name from camb.languages().",
                provider=PROVIDER,
            )
        return resolve_language(value, self._language_list(which), which, field)


def resolve_language(value: str, languages: list[dict[str, Any]], which: str, field: str) -> int:
    """The id of `value` in `languages`: an exact code or name, a name without its region
    ("french"), or a bare code ("fr") when only one language matches.

    Raises:
        InvalidInput: ambiguous (naming the candidates) or unknown (naming close matches).
    """
    wanted = value.strip().lower().replace("_", "-")
    if wanted.isdigit():
        return int(wanted)
    exact = [
        lang
        for lang in languages
        if wanted in (lang["short_name"].lower(), lang["language"].lower())
    ]
    if not exact:
        exact = [
            lang
            for lang in languages
            if lang["language"].lower().split(" (")[0] == wanted
            or lang["short_name"].lower().split("-")[0] == wanted
        ]
    if len(exact) == 1:
        return exact[0]["id"]

    def label(lang: dict[str, Any]) -> str:
        return f"{lang['language']} ({lang['short_name']}, id {lang['id']})"

    if exact:
        raise InvalidInput(
            f"{field}={value!r} is ambiguous: it matches {', '.join(label(x) for x in exact)}. "
            "Pass one of their codes or ids.",
            provider=PROVIDER,
        )
    names: dict[str, list[dict[str, Any]]] = {}
    for lang in languages:
        full = lang["language"].lower()
        for name in {full, full.split(" (")[0], lang["short_name"].lower()}:
            names.setdefault(name, []).append(lang)
    seen, hints = set(), []
    for name in difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.6):
        for lang in names[name]:
            if lang["id"] not in seen:
                seen.add(lang["id"])
                hints.append(label(lang))
    hint = f" Close matches: {'; '.join(hints)}." if hints else ""
    raise InvalidInput(
        f"{field}={value!r} is not one of CAMB.AI's {which} languages.{hint} See camb.languages().",
        provider=PROVIDER,
    )


def describe_error(status: int, data: Any) -> str | None:
    """CAMB's error bodies (FastAPI ``detail`` lists, ``{"error", "status"}``) plus advice."""
    said: list[str] = []
    swapped = False
    if isinstance(data, dict):
        detail = data.get("detail")
        if isinstance(detail, list):
            for item in detail:
                if not isinstance(item, dict):
                    continue
                loc = [str(part) for part in item.get("loc") or () if part != "body"]
                swapped = swapped or "run_id" in loc
                where = ".".join(loc) or "request"
                said.append(f"{where}: {item.get('msg', 'invalid')}")
        elif isinstance(detail, str):
            said.append(detail)
        for name in ("error", "message"):
            if isinstance(data.get(name), str):
                said.append(data[name])
    hint = HINTS.get(status)
    if status == 422 and swapped:
        hint = SWAP_HINT
    elif status == 422:
        hint = "Check the fields named above: voice and language ids come from camb.voices() and "
        hint += "camb.languages()."
    text = "; ".join(part.rstrip(".") for part in said)
    return " ".join(part for part in (text + "." if text else "", hint) if part) or None


def read_status(kind: str, data: Any) -> Observation:
    """One status answer (``{"status", "run_id", "message", "exception_reason"}``) as an
    `Observation`, with CAMB's own advice for each outcome."""
    if not isinstance(data, dict):
        raise ProviderError(
            f"camb: unexpected {kind} status answer {str(data)[:200]!r}.", provider=PROVIDER
        )
    raw = data.get("status")
    raw = raw if isinstance(raw, str) else repr(raw)
    state = STATUS.get(raw.strip().upper())  # "success" and "Success" mean SUCCESS
    said = _message(data.get("message"))
    reason = data.get("exception_reason")
    reason = reason if isinstance(reason, str) and reason != "NONE" else None
    details = " ".join(
        part for part in (said and f"CAMB.AI says: {said}", reason and f"[{reason}]") if part
    )
    if state is None:
        return Observation(
            State.RUNNING,
            raw_status=raw,
            message=f"unknown CAMB.AI status {raw!r}: treated as still running until the deadline",
        )
    if state is State.SUCCEEDED:
        run_id = _as_int(data.get("run_id"))
        if run_id is None:
            return Observation(
                State.RUNNING, raw_status=raw, message="SUCCESS but no run_id yet; looking again"
            )
        return Observation(state, raw_status=raw, ids={"run_id": RunId(run_id)})
    if state is State.TIMED_OUT:
        message = (
            f"CAMB.AI stopped the {kind} task: processing exceeded the maximum allowed duration "
            f"(TIMEOUT). {details + ' ' if details else ''}Break the text into shorter segments "
            "and submit them separately."
        )
        return Observation(state, raw_status=raw, message=message)
    if state is State.PAYMENT_REQUIRED:
        message = (
            f"CAMB.AI did not run the {kind} task: the account has insufficient credits "
            f"(PAYMENT_REQUIRED). {details + ' ' if details else ''}Add credits on your "
            "account's billing page in CAMB.AI studio, then submit again."
        )
        return Observation(state, raw_status=raw, message=message)
    if state is State.FAILED:
        advice = REASON_ADVICE.get(
            reason or "",
            "Review the inputs (text, voice, languages) and "
            "submit again; contact CAMB.AI support if it repeats.",
        )
        message = (
            f"CAMB.AI reported an error for the {kind} task ({raw}). "
            f"{details or 'No error details were given.'} {advice}"
        )
        return Observation(state, raw_status=raw, message=message)
    return Observation(state, raw_status=raw)


def expired_link(error: TTSError, what: str) -> TTSError:
    """The error for a failed result download: 401/403/404 mean the result or its link has
    expired, and so does a 400, which storage hosts (e.g. Google Cloud Storage) give an
    expired signed URL. Any other error stays as it is."""
    if isinstance(error, InvalidInput) and error.status_code != 400:
        return error
    return ExpiredResult(
        f"CAMB.AI no longer serves {what} ({error.status_code}): results and their links "
        "expire. Only submitting the request again recovers them, and it costs credits again.",
        provider=PROVIDER,
        status_code=error.status_code,
    )


class _TaskOperation:
    """What every CAMB task shares: one POST, then polls of ``/<kind>/{task_id}``."""

    provider = PROVIDER

    def __init__(self, kind: str, body: Mapping[str, Any]) -> None:
        self.kind = kind
        self.body = dict(body)

    def submit(self, call: Call) -> Observation:
        data = call.request_json("POST", f"/{self.kind}", json_body=self.body)
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ProviderError(
                f"camb: the {self.kind} answer has no task_id: {str(data)[:200]!r}.",
                provider=PROVIDER,
            )
        return Observation(State.PENDING, ids={"task_id": TaskId(task_id)})

    def poll(self, call: Call, ids: Mapping[str, Any]) -> Observation:
        try:
            task_id, _ = stored_ids(ids)
            data = call.request_json("GET", task_path(self.kind, task_id))
        except NotFound:
            return Observation(
                State.NOT_FOUND,
                raw_status="404",
                message=f"CAMB.AI no longer knows this {self.kind} task (404).",
            )
        return read_status(self.kind, data)

    def _get(self, call: Call, url: str, run_id: RunId, *, authed: bool = True):
        """A result request whose failure may mean: the result is gone (see `expired_link`)."""
        try:
            return call.request("GET", url, authed=authed)
        except (AuthError, NotFound, InvalidInput) as exc:
            raise expired_link(exc, f"the results of run {int(run_id)}") from None


class TtsOperation(_TaskOperation):
    """``/tts`` and ``/translated-tts``: audio at ``/tts-result/{run_id}`` (and, translated,
    the text at ``/translation-result/{run_id}``, which becomes the clip's ``text``)."""

    def __init__(self, kind: str, body: Mapping[str, Any], voice: str) -> None:
        super().__init__(kind, body)
        self.voice = voice

    def fetch(self, call: Call, ids: Mapping[str, Any], seen: Observation) -> Clip:
        task_id, run_id = stored_ids(ids)
        response = self._get(call, run_path("tts-result", run_id), run_id)
        meta: dict[str, Any] = {"task_id": str(task_id), "run_id": int(run_id)}
        text = self.body["text"]
        if self.kind == "translated-tts":
            data = self._get(call, run_path("translation-result", run_id), run_id)
            texts = call.transport.json_of(data)
            texts = texts.get("texts") if isinstance(texts, dict) else None
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise ProviderError(
                    f"camb: unexpected translation result {str(texts)[:200]!r}.",
                    provider=PROVIDER,
                )
            meta.update(source_text=text, texts=list(texts))
            text = " ".join(texts)
        return Clip.from_bytes(
            response.content,
            text=text,
            voice=self.voice,
            content_type=response.headers.get("Content-Type"),
            meta=meta,
        )


class TextToVoiceOperation(_TaskOperation):
    """``/text-to-voice``: preview URLs at ``/text-to-voice-result/{run_id}``, fetched without
    the key (they are on another origin). They have no voice id: see `Camb.keep_voice`."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        super().__init__("text-to-voice", body)

    def fetch(self, call: Call, ids: Mapping[str, Any], seen: Observation) -> list[Clip]:
        task_id, run_id = stored_ids(ids)
        data = call.transport.json_of(
            self._get(call, run_path("text-to-voice-result", run_id), run_id)
        )
        previews = data.get("previews") if isinstance(data, dict) else None
        if not isinstance(previews, list) or not previews:
            raise ProviderError(
                f"camb: the text-to-voice result has no previews: {str(data)[:200]!r}.",
                provider=PROVIDER,
            )
        clips = []
        for index, url in enumerate(previews, start=1):
            response = self._get(call, url, run_id, authed=False)
            clips.append(
                Clip.from_bytes(
                    response.content,
                    text=self.body["text"],
                    voice=f"camb:preview {index}",
                    content_type=response.headers.get("Content-Type"),
                    meta={
                        "voice_id": None,  # a preview is no voice until keep_voice()
                        "preview": index,
                        "preview_url": _without_query(url),
                        "task_id": str(task_id),
                        "run_id": int(run_id),
                        "voice_description": self.body["voice_description"],
                    },
                )
            )
        return clips


# ------------------------------------------------------------------ small helpers
def _is_int(value: Any) -> bool:
    """Integers, numpy's included (ids often come straight out of a DataFrame); not bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _as_int(value: Any) -> int | None:
    """An integer id, also from a digit string (camb-sdk's pydantic model coerces "123")."""
    if _is_int(value):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _message(value: Any) -> str | None:
    """CAMB's ``message``: a string, or a dict (camb-sdk: ``str | dict``) kept readable."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value:
        return json.dumps(value, ensure_ascii=False, default=str)[:500]
    return None


def _given(**options: Any) -> list[str]:
    """The names of the options that were passed (not None)."""
    return [name for name, value in options.items() if value is not None]


def _json_or_none(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


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
        if not _is_int(value) or (names is not None and value not in names.values()):
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
