"""Pictures of clips: the inline SVG waveform (clip repr, job view, comparison grid) and the
matplotlib figures of `clip.plot()` / `comparison.plot()`, drawn headless with Agg.

Tones are synthesised here with soundfile; speech comes from the simulator over loopback HTTP.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import matplotlib
import numpy as np
import pytest
import soundfile as sf

import tts_nb as tn
from tts_nb import waveform
from tts_nb.clip import Clip
from tts_nb.widgets import JobView

RATE = 22050
SVG = re.compile(r'<svg class="tts-nb-waveform".*?</svg>', re.S)
BAR = re.compile(r"M([\d.]+) ([\d.]+)V([\d.]+)")
NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True, scope="module")
def _agg():
    matplotlib.use("Agg")


def tone(seconds: float = 1.0, amplitude: float = 0.5, **facts) -> Clip:
    """A 440 Hz sine (silence with amplitude 0) as a real WAV clip."""
    t = np.arange(int(RATE * seconds)) / RATE
    buffer = io.BytesIO()
    sf.write(buffer, amplitude * np.sin(2 * np.pi * 440 * t), RATE, format="WAV")
    return Clip.from_bytes(buffer.getvalue(), **facts)


def pictures(html: str) -> list[ET.Element]:
    """Every waveform SVG in an HTML fragment, parsed as XML (so each must be well-formed)."""
    return [ET.fromstring(found) for found in SVG.findall(html)]


def bars(picture: ET.Element) -> list[tuple[float, float, float]]:
    """(x, top, bottom) of each bar of a parsed waveform SVG."""
    paths = picture.findall(f"{NS}path")
    assert len(paths) == 2  # the zero line, then the bars
    return [tuple(map(float, bar)) for bar in BAR.findall(paths[1].get("d"))]


def test_svg_of_simulator_speech_is_well_formed_with_the_requested_columns(tc, actor):
    clip = tc.speak("Pictures of speech.", actor_id=actor).wait(30)
    for width in (300, 120):
        picture = ET.fromstring(waveform.svg(clip, width=width, height=40))
        assert picture.tag == f"{NS}svg" and picture.get("role") == "img"
        assert picture.get("viewBox") == f"0 0 {width} 40"
        assert [x for x, _top, _bottom in bars(picture)] == [i + 0.5 for i in range(width)]
        label = picture.get("aria-label")
        assert (
            label.startswith(f"Waveform, {clip.duration_s:.2f} s") and "Pictures of speech" in label
        )
        assert picture.find(f"{NS}title").text == label
    heights = [bottom - top for _x, top, bottom in bars(ET.fromstring(waveform.svg(clip)))]
    assert max(heights) > 8 and min(heights) < 2  # speech has loud parts and pauses


def test_envelope_of_a_half_scale_tone_fills_half_the_height():
    heights = {
        round(bottom - top, 1) for _x, top, bottom in bars(ET.fromstring(waveform.svg(tone())))
    }
    assert heights and all(19 <= h <= 20.1 for h in heights)  # 0.5 of 40 px, peak to peak
    low, high = tone().envelope(300)
    assert low.min() == pytest.approx(-0.5, abs=0.01) and high.max() == pytest.approx(0.5, abs=0.01)


def test_silence_draws_flat_bars_on_the_middle_line():
    drawn = bars(ET.fromstring(waveform.svg(tone(amplitude=0.0), height=40)))
    assert len(drawn) == 300
    assert {(top, bottom) for _x, top, bottom in drawn} == {(19.5, 20.5)}


def test_a_shorter_clip_takes_its_share_of_a_common_time_span():
    half = tone(seconds=0.5)
    assert len(bars(ET.fromstring(waveform.svg(half, span_s=1.0)))) == 150
    assert len(bars(ET.fromstring(waveform.svg(half, span_s=0.1)))) == 300  # never wider


def test_envelope_is_cached_and_read_only():
    clip = tone()
    first = clip.envelope(300)
    assert clip.envelope(300) is first and clip.envelope(200) is not first
    with pytest.raises(ValueError):
        first[0][0] = 1.0


def test_text_and_voice_are_escaped_in_the_label():
    payload = '</title><script>alert("x")</script>'
    clip = tone(text=payload, voice='<b onload="x">')
    rendered = waveform.svg(clip)
    assert "<script>" not in rendered and "<b " not in rendered
    picture = ET.fromstring(rendered)  # still well-formed: nothing broke out
    assert payload in picture.get("aria-label") and payload in picture.find(f"{NS}title").text
    assert picture.find(f".//{NS}script") is None


def test_clip_repr_shows_the_waveform_after_the_player():
    clip = tone(text="Hi")
    rendered = clip._repr_html_()
    assert rendered.index("</audio>") < rendered.index('<svg class="tts-nb-waveform"')
    assert len(pictures(rendered)) == 1


def test_an_undecodable_clip_keeps_its_player_without_a_picture():
    clip = Clip(
        data=b"RIFF\x00\x00\x00\x00WAVEjunk",
        format="wav",
        sample_rate=8000,
        channels=1,
        duration_s=1.0,
    )
    assert waveform.svg(clip) == ""
    assert "<audio" in clip._repr_html_() and "<svg" not in clip._repr_html_()


def test_job_view_shows_the_waveform_once_finished(tc, actor):
    job = tc.speak("A finished view.", actor_id=actor)
    view = JobView(job)
    assert view.wait(30)
    [picture] = pictures(view.result.value)
    assert len(bars(picture)) == 300
    assert picture.get("aria-label").startswith(f"Waveform, {job.clip.duration_s:.2f} s")


def test_comparison_cells_share_one_time_scale(tc):
    cmp = tn.compare("One scale for all.", voices=[(tc, "Olivia"), (tc, "James"), (tc, "Emma")])
    view = cmp.widget
    assert cmp.wait(30) is cmp and view.wait(10)
    durations = [entry.clip.duration_s for entry in cmp.entries]
    longest = max(durations)
    assert len(set(durations)) > 1  # otherwise the scale would not be tested
    for cell, duration in zip(view.cells, durations):
        [picture] = pictures(cell.value)
        assert len(bars(picture)) == round(300 * duration / longest)


def test_clip_plot_draws_waveform_spectrogram_and_colour_bar(tc, actor):
    said = r"Price: $\oops$ today"  # as mathtext, drawing it would raise
    clip = tone(seconds=1.0, text=said, voice="sim:tone")
    figure = clip.plot()
    wave, spectrum, colour_bar = figure.axes
    assert wave.get_xlim() == spectrum.get_xlim() == (0, clip.duration_s)
    assert figure.get_suptitle() == f"sim:tone · “{said}”"
    assert spectrum.get_xlabel() == "time (s)" and colour_bar.get_ylabel() == "level (dBFS)"
    [image] = spectrum.get_images()
    assert image.get_array().max() == pytest.approx(-6.0, abs=1.5)  # a 0.5 sine is -6 dBFS
    figure.canvas.draw()  # the $ signs are drawn as text
    assert len(tone().plot(spectrogram=False).axes) == 1
    speech = tc.speak("Drawn speech.", actor_id=actor).wait(30)
    assert speech.plot().axes[0].get_xlim() == (0, speech.duration_s)


def test_comparison_plot_aligns_every_voice_on_one_time_axis(tc):
    cmp = tn.compare("Aligned rows.", voices=[(tc, "Olivia"), (tc, "James"), (tc, "Emma")])
    cmp.wait(30)
    longest = max(entry.clip.duration_s for entry in cmp.entries)
    figure = cmp.plot()
    assert len(figure.axes) == 2 * 3 + 1  # waveform + spectrogram per voice, one colour bar
    assert {ax.get_xlim() for ax in figure.axes[:6]} == {(0, longest)}
    titles = [ax.get_title(loc="left") for ax in figure.axes[0:6:2]]
    assert titles == [entry.label for entry in cmp.entries]
    flat = cmp.plot(spectrogram=False)
    assert len(flat.axes) == 3 and {ax.get_xlim() for ax in flat.axes} == {(0, longest)}


def test_nothing_to_plot_is_said_plainly(tc):
    cmp = tn.compare("Broken. [[sim:fail]]", voices=[(tc, "Olivia")]).wait(30)
    with pytest.raises(tn.InvalidInput, match="no finished clip"):
        cmp.plot()


def test_import_tts_nb_loads_no_numpy_pandas_or_matplotlib():
    code = (
        "import sys, tts_nb, tts_nb.waveform, tts_nb.pictures; "
        "print([m for m in ('matplotlib', 'pandas', 'numpy', 'soundfile') if m in sys.modules])"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
