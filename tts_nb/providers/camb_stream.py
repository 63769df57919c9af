"""CAMB.AI's current speech endpoint, ``POST /tts-stream``: the audio is the answer itself.

CAMB deprecated the ``/tts`` task flow in favour of this endpoint (get-tts-run-info.md). The
request follows camb-sdk 1.6.6 (``text_to_speech/raw_client.py``): ``{text, language,
voice_id, speech_model?, user_instructions?, output_configuration: {format}}``, where
``language`` is a BCP-47 locale string (not CAMB's integer id), ``text`` has 3–3000 characters,
and an unsupported locale comes back as a 422 listing the supported ones. The answer carries
``X-Credits-Required``, the credits the request cost.

It is a job that finishes at submit: `StreamOperation.submit` returns a SUCCEEDED observation
whose payload is the decoded `Clip`, and `fetch` hands it over (no second request). The clip is
decoded at submit, not at fetch, because a bad body cannot be fetched again: the engine would
retry a fetch that has nothing to download. A stream that breaks off mid-body, or a body that
is not audio, leaves the submit unconfirmed (it was probably charged), so it is never re-sent
by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..clip import Clip
from ..errors import InvalidInput, QuotaError, TTSError
from ..job import Call, Observation
from ..state import State

PROVIDER = "camb"
KIND = "tts-stream"
MIN_CHARS, MAX_CHARS = 3, 3000  # the endpoint's documented range (create-tts-stream)
# camb-sdk text_to_speech/types/create_stream_tts_request_payload_speech_model.py
SPEECH_MODELS = (
    "mars-flash",
    "mars-pro",
    "mars-instruct",
    "mars-8.1-flash-beta",
    "mars-8.1-pro-beta",
)
# camb-sdk text_to_speech/types/create_stream_tts_request_payload_language.py
STREAM_LOCALES = frozenset(
    "ar-kw de-ch ko-kr th-th ml-in pt-pt kn-in fi-fi es-mx fr-ca cs-cz pt-br hi-in ar-sy es-us "
    "bn-bd ja-jp mr-in ar-ma es-es en-us zh-cn el-gr pl-pl ar-om fr-ch en-uk en-au ar-jo ar-ae "
    "tr-tr ar-ly ru-ru en-in ar-ye ar-eg fr-be ta-in zh-tw vi-vn bn-in ar-sa de-at pa-in it-it "
    "nl-nl ar-bh fr-fr ar-qa uk-ua ar-tn de-de ar-xa ar-lb zh-hk ro-ro as-in ar-iq nl-be te-in "
    "id-id ar-dz".split()
)
# Of camb-sdk's OutputFormat (types/output_format.py), those a player and `Clip` can decode.
# The others are raw PCM without a header, or AAC (adts). WAV is asked for by default: lossless.
PLAYABLE_FORMATS = ("wav", "flac", "mp3")
CREDITS_HEADER = "X-Credits-Required"


def stream_text(text: Any) -> str:
    """The text, checked against the endpoint's 3–3000 characters before anything is sent."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("text is empty: give the text to speak.", provider=PROVIDER)
    text = text.strip()
    if not MIN_CHARS <= len(text) <= MAX_CHARS:
        raise InvalidInput(
            f"text has {len(text)} characters; CAMB.AI's /tts-stream takes {MIN_CHARS} to "
            f"{MAX_CHARS}. Split a longer text into parts (at sentence ends) and speak each; "
            "pad a shorter one into a phrase.",
            provider=PROVIDER,
        )
    return text


def stream_options(
    speech_model: str | None, output_format: str | None, user_instructions: str | None
) -> dict[str, Any]:
    """The optional part of the body, validated against camb-sdk's documented values."""
    body: dict[str, Any] = {}
    if speech_model is not None:
        if speech_model not in SPEECH_MODELS:
            raise InvalidInput(
                f"speech_model={speech_model!r} is not one of CAMB.AI's models: "
                f"{', '.join(SPEECH_MODELS)}.",
                provider=PROVIDER,
            )
        body["speech_model"] = speech_model
    if user_instructions is not None:
        if not isinstance(user_instructions, str):
            raise InvalidInput("user_instructions must be a string.", provider=PROVIDER)
        body["user_instructions"] = user_instructions
    fmt = "wav" if output_format is None else str(output_format).lower()
    if fmt not in PLAYABLE_FORMATS:
        raise InvalidInput(
            f"output_format={output_format!r}: tts_nb plays and checks "
            f"{', '.join(PLAYABLE_FORMATS)} (CAMB's raw PCM and AAC formats have no header a "
            "player could read).",
            provider=PROVIDER,
        )
    body["output_configuration"] = {"format": fmt}
    return body


class StreamOperation:
    """``POST /tts-stream`` as a job that succeeds at submit, with the clip as payload."""

    provider = PROVIDER
    kind = KIND

    def __init__(self, body: Mapping[str, Any], voice: str) -> None:
        self.body = dict(body)
        self.voice = voice

    def submit(self, call: Call) -> Observation:
        try:
            response = call.request("POST", f"/{KIND}", json_body=self.body)
        except TTSError as error:
            raise _payment_required(error) from None
        credits = response.headers.get(CREDITS_HEADER)
        meta = {
            "voice_id": self.body["voice_id"],
            "language": self.body["language"],
            "speech_model": self.body.get("speech_model"),
            "credits_required": _number(credits),
        }
        clip = Clip.from_bytes(
            response.content,
            text=self.body["text"],
            voice=self.voice,
            content_type=response.headers.get("Content-Type"),
            meta=meta,
        )
        spent = f"{CREDITS_HEADER}: {credits}" if credits is not None else None
        return Observation(State.SUCCEEDED, payload=clip, message=spent)

    def poll(self, call: Call, ids: Mapping[str, Any]) -> Observation:
        raise InvalidInput(NO_RESUME, provider=PROVIDER)

    def fetch(self, call: Call, ids: Mapping[str, Any], seen: Observation) -> Clip:
        return seen.payload


NO_RESUME = (
    "A streamed CAMB.AI request has no id to look up later: its audio came in the answer. "
    "If it never finished, speak the text again (force=True if tts_nb asks)."
)


def _payment_required(error: TTSError) -> TTSError:
    """A refusal that names CAMB's PAYMENT_REQUIRED (whatever its HTTP status) is a quota
    problem: the job then ends PAYMENT_REQUIRED, with the advice to add credits."""
    if isinstance(error, QuotaError) or "PAYMENT_REQUIRED" not in str(error):
        return error
    return QuotaError(
        f"{error} Add credits on your CAMB.AI account's billing page, then speak again.",
        provider=PROVIDER,
    )


def _number(value: str | None) -> int | float | str | None:
    """A header's number as a number (credits may be fractional), else the text as sent."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number
