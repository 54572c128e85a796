"""Long audio in segments, and each segment as the coding paths see it.

A track is coded in segments of at most ``segment_frames`` frames, one after another,
so that memory stays bounded whatever the length. Each segment is coded with the track's
real audio around it, as the middle of a track would be, so that its edges leave no
trace; where the track itself ends, the audio goes on by odd reflection.

>>> audio = np.zeros((10, 2), np.float32)
>>> [(block.first, len(block.audio), block.last) for block in blocks_of_array(audio, 2, 4)]
[(0, 4, False), (4, 4, False), (8, 2, True)]
>>> signal = coding_signal(next(blocks_of_array(audio + 0.5, 0, 10)), context_steps=2)
>>> signal.audio.shape, signal.left, signal.gain
((2, 28), 8, 0.5)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import soundfile as sf

from codec.audio import check_audio, to_stereo
from codec.pqmf import STRIDE


class SegmentAudio(NamedTuple):
    """One segment's audio, and the track's audio around it, which its coding sees."""

    first: int  # where the segment starts in the track
    audio: np.ndarray  # float32 (frames, channels)
    before: np.ndarray  # at most a margin of frames just before the segment
    after: np.ndarray  # at most a margin of frames just after it; none after the last
    last: bool


def layout(frames: int, context_steps: int) -> tuple[int, int, int]:
    """Latent steps of a segment of ``frames``, and the (left, right) margins in frames
    that frame it: ``context_steps`` latents each side, so edge samples keep their full
    receptive field."""
    steps = -(-frames // STRIDE) + 2 * context_steps
    left = context_steps * STRIDE
    return steps, left, steps * STRIDE - frames - left


def margin_frames(context_steps: int) -> int:
    """Frames of the track around a segment that its coding reads."""
    return layout(0, context_steps)[2] + STRIDE


def blocks_of_array(audio: np.ndarray, margin: int, segment_frames: int) -> Iterator[SegmentAudio]:
    """The segments of an array of audio."""
    audio = check_audio(audio)
    starts = range(0, max(len(audio), 1), segment_frames)
    for start in starts:
        stop = start + segment_frames
        before, after = audio[max(start - margin, 0) : start], audio[stop : stop + margin]
        yield SegmentAudio(start, audio[start:stop], before, after, start == starts[-1])


def blocks_of_file(
    audio_file: sf.SoundFile, margin: int, segment_frames: int
) -> Iterator[SegmentAudio]:
    """The segments of an open audio file, read as it goes, one segment ahead."""

    def read() -> np.ndarray:
        return check_audio(audio_file.read(segment_frames, "float32", always_2d=True))

    margin = min(margin, segment_frames)
    first, block = 0, read()
    before = block[:0]
    while True:
        following = read()
        yield SegmentAudio(first, block, before, following[:margin], len(following) == 0)
        if len(following) == 0:
            return
        first, before, block = first + len(block), block[len(block) - margin :], following


@dataclass(frozen=True)
class SegmentSignal:
    """A segment's audio as every coding path codes it: stereo, over its gain, framed by
    ``left`` frames of margin before it and the rest of ``4 x steps`` after it."""

    audio: np.ndarray  # float32 (2, 4 x steps)
    gain: float  # the segment's rms; 0 for silence
    frames: int  # of the segment itself
    channels: int  # of the original audio, 1 or 2
    left: int
    steps: int

    @property
    def samples(self) -> int:
        """Samples of the original audio: what bits per sample are counted over."""
        return max(self.frames * self.channels, 1)


def coding_signal(block: SegmentAudio, context_steps: int) -> SegmentSignal:
    """The segment's audio over its gain, stereo, with its margins."""
    frames, channels = block.audio.shape
    gain = float(np.sqrt(np.mean(block.audio.astype(np.float64) ** 2))) if frames else 0.0
    steps, left, right = layout(frames, context_steps)
    known_left, known_right = min(left, len(block.before)), min(right, len(block.after))
    before = block.before[len(block.before) - known_left :]
    around = [before, block.audio, block.after[:known_right]]
    stereo = to_stereo(np.concatenate(around)) / (gain or 1.0)
    # where the track ends, odd reflection: edge samples see music that goes on smoothly,
    # not zeros or a kink (a kink costs bits and leaves a burst of error at the edge)
    pad = ((left - known_left, right - known_right), (0, 0))
    if frames:
        padded = np.pad(stereo, pad, mode="reflect", reflect_type="odd")
    else:
        padded = np.zeros((left + right, 2))
    audio = np.ascontiguousarray(padded.T, dtype=np.float32)
    return SegmentSignal(audio, gain, frames, channels, left, steps)
