"""CAMB.AI's own SDK (camb-sdk, unchanged) against the simulator: if the official client can
use every flow, the simulator speaks CAMB's shapes, not only tts_nb's reading of them.

The SDK is pointed at the simulator with its documented ``base_url=`` option.
"""

from __future__ import annotations

import io
import time

import pytest
import requests
from camb.client import CambAI
from camb.core.api_error import ApiError
from camb.errors.unprocessable_entity_error import UnprocessableEntityError
from camb.types import StreamTtsOutputConfiguration

from tts_nb.clip import Clip
from tts_nb.simulator import Simulator

DESCRIPTION = (
    "A deep, calm older man with a gentle Scottish accent, speaking slowly and warmly, like a "
    "storyteller by the fire on a long winter evening in a small stone cottage by the sea."
)


@pytest.fixture(scope="module")
def sim():
    with Simulator(speed=1000, seed=17) as simulator:
        yield simulator


@pytest.fixture
def sdk(sim):
    return CambAI(api_key=sim.credentials["camb_api_key"], base_url=sim.urls["camb"], timeout=30)


def until_done(check, task_id):
    """The polling loop an SDK user writes (no helper in camb-sdk 1.6.6)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = check(task_id)
        if status.status != "PENDING":
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} still PENDING")


def test_sdk_streaming_tts_gets_real_wav_speech(sdk, sim):
    sim.log.clear()
    chunks = list(
        sdk.text_to_speech.tts(
            text="Hello from the official SDK.",
            language="en-us",
            voice_id=147320,
            speech_model="mars-flash",
            output_configuration=StreamTtsOutputConfiguration(format="wav"),
        )
    )
    assert len(chunks) > 1  # streamed, not one block
    clip = Clip.from_bytes(b"".join(chunks))
    assert clip.format == "wav" and clip.duration_s > 0.5 and clip.rms_dbfs > -40
    (post,) = sim.log.find(origin="camb", method="POST", path="/apis/tts-stream")
    assert post.status == 200 and post.headers["x-api-key"] == sim.credentials["camb_api_key"]


def test_sdk_stream_errors_are_its_own_typed_errors(sdk, sim):
    with pytest.raises(UnprocessableEntityError) as info:
        list(sdk.text_to_speech.tts(text="Hej allihop.", language="sv-se", voice_id=147320))
    (item,) = info.value.body.detail
    assert item.loc == ["body", "language"] and "'en-us'" in item.msg
    bad = CambAI(api_key="wrong", base_url=sim.urls["camb"])
    with pytest.raises(ApiError) as info:
        list(bad.text_to_speech.tts(text="Hello there.", language="en-us", voice_id=147320))
    assert info.value.status_code == 401 and info.value.body["error"] == "Invalid API key"


def test_sdk_task_tts_flow(sdk):
    task = sdk.text_to_speech.create_tts(text="The old way.", voice_id=147321, language=1)
    status = until_done(sdk.text_to_speech.get_tts_result, task.task_id)
    assert status.status == "SUCCESS" and isinstance(status.run_id, int)
    link = sdk.text_to_speech.get_tts_run_info(status.run_id, output_type="file_url")
    audio = requests.get(link.output_url, timeout=30).content
    assert Clip.from_bytes(audio).format == "flac"


def test_sdk_translated_tts_flow(sdk):
    task = sdk.translated_tts.create_translated_tts(
        text="Good morning, friend.", voice_id=147320, source_language=1, target_language=76
    )
    status = until_done(sdk.translated_tts.get_translated_tts_task_status, task.task_id)
    assert status.status == "SUCCESS"
    result = sdk.translation.get_translation_result(status.run_id)
    assert result.texts == ["Bon matin, ami."]


def test_sdk_voice_design_then_keep_then_speak(sdk, sim):
    task = sdk.text_to_voice.create_text_to_voice(
        text="Gather round.", voice_description=DESCRIPTION
    )
    status = until_done(sdk.text_to_voice.get_text_to_voice_status, task.task_id)
    previews = sdk.text_to_voice.get_text_to_voice_result(status.run_id).previews
    assert len(previews) == 2
    before = {v["id"] for v in sdk.voice_cloning.list_voices()}
    sample = requests.get(previews[0], timeout=30).content
    kept = sdk.voice_cloning.create_custom_voice(
        voice_name="Storyteller", gender=1, file=("preview.flac", io.BytesIO(sample))
    )
    after = {v["id"] for v in sdk.voice_cloning.list_voices()}
    assert after - before == {kept.voice_id}  # only the kept preview became a voice
    audio = b"".join(
        sdk.text_to_speech.tts(text="Gather round.", language="en-uk", voice_id=kept.voice_id)
    )
    assert Clip.from_bytes(audio).format == "mp3"  # the SDK's documented default format
