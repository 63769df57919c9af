"""The official SDK, typecast-python, unchanged against the simulator's v1 origin: if the
simulator's shapes drifted from the real API's, the SDK's own parsing would fail here."""

from __future__ import annotations

import io

import pytest
import soundfile
import typecast
from typecast.exceptions import (
    NotFoundError,
    PaymentRequiredError,
    UnauthorizedError,
    UnprocessableEntityError,
)
from typecast.models import (
    Output,
    PresetPrompt,
    SmartPrompt,
    TTSModel,
    TTSRequest,
    VoicesV2Filter,
)


@pytest.fixture
def sdk(sim):
    """The SDK's client, pointed at the simulator with its documented ``host=`` argument."""
    return typecast.Typecast(
        host=sim.urls["typecast_v1"], api_key=sim.credentials["typecast_v1_api_key"]
    )


@pytest.fixture
def voice_id(sdk):
    return sdk.voices_v2()[0].voice_id


def test_text_to_speech_gives_audio_the_sdk_reads(sdk, voice_id, sim):
    response = sdk.text_to_speech(
        TTSRequest(
            text="Hello from the official SDK.",
            voice_id=voice_id,
            model=TTSModel.SSFM_V30,
            prompt=PresetPrompt(emotion_preset="happy", emotion_intensity=1.2),
        )
    )
    assert response.format == "wav" and response.audio_data[:4] == b"RIFF"
    samples, rate = soundfile.read(io.BytesIO(response.audio_data))
    assert response.duration == pytest.approx(len(samples) / rate, abs=0.01) and rate == 44100
    (request,) = sim.log.find(origin="typecast_v1", method="POST")
    assert request.headers["x-api-key"] == sim.credentials["typecast_v1_api_key"]


def test_mp3_and_smart_prompts(sdk, voice_id):
    response = sdk.text_to_speech(
        TTSRequest(
            text="Really?",
            voice_id=voice_id,
            model=TTSModel.SSFM_V30,
            language="eng",
            prompt=SmartPrompt(previous_text="I won the prize.", next_text="That is amazing."),
            output=Output(audio_format="mp3", target_lufs=-16.0, audio_tempo=1.1),
        )
    )
    assert response.format == "mp3" and response.duration > 0
    assert soundfile.info(io.BytesIO(response.audio_data)).format == "MP3"


def test_voices_and_one_voice_parse_as_the_sdks_models(sdk):
    voices = sdk.voices_v2()
    assert len(voices) == 8 and all(v.voice_id.startswith("tc_") for v in voices)
    assert {m.version for m in voices[0].models} == {TTSModel.SSFM_V21, TTSModel.SSFM_V30}
    women = sdk.voices_v2(VoicesV2Filter(gender="female"))
    assert 0 < len(women) < len(voices) and {v.gender.value for v in women} == {"female"}
    one = sdk.voice_v2(voices[1].voice_id)
    assert one == voices[1]
    with pytest.raises(NotFoundError):
        sdk.voice_v2("tc_000000000000000000000000")


def test_subscription_parses_and_counts_credits(sdk, voice_id):
    before = sdk.get_my_subscription()
    assert before.plan.value == "free" and before.limits.concurrency_limit == 2
    sdk.text_to_speech(TTSRequest(text="Twelve chars", voice_id=voice_id, model="ssfm-v30"))
    after = sdk.get_my_subscription()
    assert after.credits.used_credits == before.credits.used_credits + len("Twelve chars")


def test_the_sdks_errors_come_from_the_simulators_statuses(sim, sdk, voice_id, monkeypatch):
    monkeypatch.setenv("TYPECAST_API_HOST", sim.urls["typecast_v1"])  # the SDK's env option
    with pytest.raises(UnauthorizedError):
        typecast.Typecast(api_key="not-a-key").voices_v2()
    with pytest.raises(UnprocessableEntityError, match="not supported by ssfm-v21"):
        sdk.text_to_speech(
            TTSRequest(text="Hi", voice_id=voice_id, model="ssfm-v21", language="hin")
        )
    sim.typecast_v1.plan_credits = 1
    with pytest.raises(PaymentRequiredError):
        sdk.text_to_speech(TTSRequest(text="Too long", voice_id=voice_id, model="ssfm-v30"))
