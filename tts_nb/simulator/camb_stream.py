"""CAMB.AI's current speech endpoint, ``POST /tts-stream``, and ``POST /create-custom-voice``.

``/tts-stream`` answers with the audio itself, streamed (chunked transfer encoding), and the
header ``X-Credits-Required``. The request is camb-sdk 1.6.6's (``text_to_speech/raw_client.py``):
``{text, language, voice_id, speech_model, user_instructions,
enhance_named_entities_pronunciation, output_configuration: {format, duration,
apply_enhancement, sample_rate}, voice_settings: {…, speaking_rate}, inference_options: {…}}``,
absent fields omitted. Checks, in FastAPI's 422 shape ``{"detail": [{"type", "loc", "msg",
"input"}]}``:

* ``text``: 3–3000 characters (the endpoint's documented range);
* ``language``: a BCP-47 locale from the SDK's list (``create_stream_tts_request_payload_language
  .py``); any other value is answered as FastAPI answers a ``Literal``: a ``literal_error`` whose
  message lists every allowed locale;
* ``speech_model``: one of the SDK's five models; ``voice_id``: a voice of this key;
* ``output_configuration.format``: the SDK's ``OutputFormat``. wav, flac, mp3 and the raw PCM
  variants are produced; ``adts`` (AAC) is a format CAMB has but soundfile cannot write, so the
  simulator answers 501 saying so, never a fake. The SDK's model says the default is MP3.

Credits: each spoken character costs one (``sim.camb.credits``, shared with the task flows), and
``X-Credits-Required`` says how many a request needs. When the key has too few, the answer is
402 ``{"detail": "PAYMENT_REQUIRED: …"}``: CAMB documents credits, the ``PAYMENT_REQUIRED``
vocabulary and no status code for this endpoint, so the code is HTTP's own Payment Required
(an assumption; the SDK turns any non-2xx into ``ApiError`` either way).
``[[sim:broken-stream]]`` in the text makes the stream break off mid-body.

``/create-custom-voice`` is how CAMB keeps a voice (camb-sdk ``voice_cloning/raw_client.py``):
multipart form ``voice_name``, ``gender`` (int), ``file`` (the audio), optional ``description``,
``age``, ``language`` (int), ``enhance_audio``, ``publish_voice_to_market_place``; query
``run_id``; answer ``{"voice_id": int}`` (``types/create_custom_voice_out.py``). The voice then
appears in ``/list-voices``. A text-to-voice preview uploaded this way keeps the preview's timbre.
"""

from __future__ import annotations

import email.parser
import email.policy
from typing import Any

import numpy as np

from . import speech
from .markers import parse_markers
from .server import HTTPError, Request, Response

# camb-sdk text_to_speech/types/create_stream_tts_request_payload_language.py, in its order.
STREAM_LOCALES = (
    "ar-kw de-ch ko-kr th-th ml-in pt-pt kn-in fi-fi es-mx fr-ca cs-cz pt-br hi-in ar-sy es-us "
    "bn-bd ja-jp mr-in ar-ma es-es en-us zh-cn el-gr pl-pl ar-om fr-ch en-uk en-au ar-jo ar-ae "
    "tr-tr ar-ly ru-ru en-in ar-ye ar-eg fr-be ta-in zh-tw vi-vn bn-in ar-sa de-at pa-in it-it "
    "nl-nl ar-bh fr-fr ar-qa uk-ua ar-tn de-de ar-xa ar-lb zh-hk ro-ro as-in ar-iq nl-be te-in "
    "id-id ar-dz"
).split()
# camb-sdk text_to_speech/types/create_stream_tts_request_payload_speech_model.py
SPEECH_MODELS = (
    "mars-pro",
    "mars-flash",
    "mars-instruct",
    "mars-8.1-pro-beta",
    "mars-8.1-flash-beta",
)
# camb-sdk types/output_format.py
OUTPUT_FORMATS = (
    "wav",
    "flac",
    "adts",
    "mp3",
    "pcm_s16le",
    "pcm_s16be",
    "pcm_s32be",
    "pcm_s32le",
    "pcm_f32le",
    "pcm_f32be",
)
DEFAULT_FORMAT = "mp3"  # camb-sdk types/stream_tts_output_configuration.py: "Defaults to MP3"
MIN_CHARS, MAX_CHARS = 3, 3000
MP3_SYNC = (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
CONTENT_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg"}
PCM = {  # raw PCM: numpy dtype per CAMB format name
    "pcm_s16le": "<i2",
    "pcm_s16be": ">i2",
    "pcm_s32le": "<i4",
    "pcm_s32be": ">i4",
    "pcm_f32le": "<f4",
    "pcm_f32be": ">f4",
}


def _invalid(loc: list, msg: str, kind: str, given: Any = None) -> HTTPError:
    item = {"type": kind, "loc": loc, "msg": msg, "input": given}
    return HTTPError(Response.json({"detail": [item]}, 422))


def _literal(loc: list, allowed: tuple[str, ...] | list[str], given: Any) -> HTTPError:
    """FastAPI's answer to a value outside a ``Literal``: every allowed value, listed."""
    listed = ", ".join(repr(a) for a in allowed[:-1]) + f" or {allowed[-1]!r}"
    return _invalid(loc, f"Input should be {listed}", "literal_error", given)


def stream_tts(app, request: Request, key: str) -> Response:
    """``POST /tts-stream``: validate, charge, synthesize, stream (see the module docstring)."""
    body = request.json(_invalid(["body"], "JSON decode error", "json_invalid", {}).response)
    if not isinstance(body, dict):
        raise _invalid(["body"], "Input should be a valid dictionary", "dict_type", body)
    text = body.get("text")
    if not isinstance(text, str):
        raise _invalid(
            ["body", "text"],
            "Field required" if text is None else "Input should be a valid string",
            "missing" if text is None else "string_type",
            text,
        )
    if len(text) < MIN_CHARS:
        raise _invalid(
            ["body", "text"],
            f"String should have at least {MIN_CHARS} characters",
            "string_too_short",
            text,
        )
    if len(text) > MAX_CHARS:
        raise _invalid(
            ["body", "text"],
            f"String should have at most {MAX_CHARS} characters",
            "string_too_long",
            text,
        )
    language = body.get("language")
    if language not in STREAM_LOCALES:
        raise _literal(["body", "language"], STREAM_LOCALES, language)
    model = body.get("speech_model")
    if model is not None and model not in SPEECH_MODELS:
        raise _literal(["body", "speech_model"], SPEECH_MODELS, model)
    voice_id = body.get("voice_id")
    voice = next((v for v in app.voices_of(key) if v.id == voice_id), None)
    if isinstance(voice_id, bool) or voice is None:
        raise _invalid(
            ["body", "voice_id"],
            f"Voice {voice_id} does not exist or is not available to this API key.",
            "value_error",
            voice_id,
        )
    config = body.get("output_configuration") or {}
    settings = body.get("voice_settings") or {}
    if not isinstance(config, dict) or not isinstance(settings, dict):
        bad = "output_configuration" if not isinstance(config, dict) else "voice_settings"
        raise _invalid(["body", bad], "Input should be a valid dictionary", "model_type", None)
    fmt = config.get("format") or DEFAULT_FORMAT
    if fmt not in OUTPUT_FORMATS:
        raise _literal(["body", "output_configuration", "format"], OUTPUT_FORMATS, fmt)
    if fmt == "adts":
        detail = "The tts_nb simulator cannot produce adts (AAC) audio; ask for wav, flac or mp3."
        return Response.json({"detail": detail}, 501)
    markers, spoken = parse_markers(text)
    cost = len(spoken)
    credits = {"X-Credits-Required": str(cost)}
    if not app.charge(key, cost):
        detail = (
            f"PAYMENT_REQUIRED: this request needs {cost} credits and the account has "
            f"{app.credits_left(key)}. Add credits on the billing page."
        )
        return Response.json({"detail": detail}, 402, credits)
    audio = _synthesize(spoken, language, voice.variant, fmt, config, settings)
    if markers.empty_audio:
        audio = b""
    elif markers.not_audio:
        audio = b'{"error": "internal rendering error"}'
    kind = CONTENT_TYPES.get(fmt, "application/octet-stream")
    headers = {"Content-Type": kind, **credits}
    cut = len(audio) // 2 if markers.broken_stream else None
    return Response(200, audio, headers, stream=True, cut_at=cut)


def _synthesize(text: str, locale: str, variant: str, fmt: str, config: dict, settings: dict):
    espeak = speech.language_voice(locale) or locale.split("-")[0]
    rate = settings.get("speaking_rate")
    rate_wpm = 175 * rate if isinstance(rate, (int, float)) and rate > 0 else 175
    sample_rate = config.get("sample_rate")
    sample_rate = sample_rate if isinstance(sample_rate, int) and sample_rate > 0 else None
    said = speech.synthesize(
        text, f"{espeak}+{variant}", rate_wpm=int(rate_wpm), sample_rate=sample_rate
    )
    if fmt in PCM:
        dtype = np.dtype(PCM[fmt])
        if dtype.kind == "f":
            return said.samples.astype(dtype).tobytes()
        peak = np.iinfo(dtype).max
        return np.clip(said.samples * peak, -peak - 1, peak).astype(dtype).tobytes()
    return speech.encode(said, fmt)


# ------------------------------------------------------------------ create-custom-voice
def form_parts(request: Request) -> dict[str, tuple[str | None, bytes]]:
    """A multipart/form-data body as ``{name: (filename, bytes)}``."""
    kind = request.header("content-type") or ""
    if not kind.startswith("multipart/form-data"):
        raise _invalid(["body"], "Expected multipart/form-data", "value_error", kind)
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {kind}\r\n\r\n".encode() + request.body
    )
    parts = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            parts[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return parts


def looks_like_audio(data: bytes) -> bool:
    """WAV, FLAC or MP3 by their first bytes (what CAMB accepts as a voice sample)."""
    return data[:4] in (b"RIFF", b"fLaC") or data[:3] == b"ID3" or data[:2] in MP3_SYNC


def custom_voice_fields(request: Request) -> dict[str, Any]:
    """The form of ``/create-custom-voice``, checked as FastAPI would (422s)."""
    parts = form_parts(request)
    fields: dict[str, Any] = {}
    for name in ("voice_name", "gender", "file"):
        if name not in parts:
            raise _invalid(["body", name], "Field required", "missing", None)
    fields["voice_name"] = parts["voice_name"][1].decode("utf-8", "replace").strip()
    if not fields["voice_name"]:
        raise _invalid(
            ["body", "voice_name"],
            "String should have at least 1 character",
            "string_too_short",
            "",
        )
    for name in ("gender", "age", "language"):
        if name in parts:
            raw = parts[name][1].decode("utf-8", "replace").strip()
            if not raw.lstrip("-").isdigit():
                raise _invalid(
                    ["body", name],
                    "Input should be a valid integer, unable to parse string as an integer",
                    "int_parsing",
                    raw,
                )
            fields[name] = int(raw)
    if fields["gender"] not in (0, 1, 2, 9):
        raise _literal(["body", "gender"], ("0", "1", "2", "9"), fields["gender"])
    if "description" in parts:
        fields["description"] = parts["description"][1].decode("utf-8", "replace")
    audio = parts["file"][1]
    if not looks_like_audio(audio):
        raise _invalid(
            ["body", "file"],
            "The file is not an audio file (wav, flac or mp3).",
            "value_error",
            parts["file"][0],
        )
    fields["file"] = audio
    return fields
