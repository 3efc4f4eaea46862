"""Taking the agent's own voice out of a microphone that hears it (a speaker in the room, no echo cancellation on
the client), so the agent does not take its own voice for the human's and interrupt itself.

A simple model, stated plainly: the microphone hears one delayed, scaled copy of what the server sent, plus the
human. The delay (up to `max_delay_ms`) and the gain are found by cross-correlating the last second of
microphone audio with the voice sent over the same stretch of the session's clock, and the copy is subtracted.
That removes most of a direct path in a quiet room (about 20 dB in the tests); reverberant rooms need a real
adaptive echo canceller, which platforms (WebRTC, the OS) provide: prefer theirs where there is one.
"""

from __future__ import annotations

import numpy as np

from eai_avatar.vocabulary import SAMPLE_RATE

#: Microphone samples between searches for the delay and gain (a quarter second).
ESTIMATE_EVERY = SAMPLE_RATE // 4
#: How much (normalized correlation) the microphone must resemble the delayed voice for an estimate to count.
MIN_LIKENESS = 0.3
#: A microphone quieter than this (RMS of PCM16, about -56 dBFS) holds nothing to estimate an echo on.
AUDIBLE_RMS = 50.0


class EchoCanceller:
    """Args:
    max_delay_ms: the longest playback-to-microphone delay looked for.
    history_ms: microphone audio the delay and gain are estimated on.
    """

    def __init__(self, max_delay_ms: int = 500, history_ms: int = 1000):
        self.max_delay = max_delay_ms * SAMPLE_RATE // 1000
        self.history = history_ms * SAMPLE_RATE // 1000
        self._reference = np.zeros(0, np.float32)  # the voice sent, from clock sample `_reference_start` on
        self._reference_start = 0
        self._mic = np.zeros(0, np.float32)  # recent microphone audio, ending at clock sample `_mic_end`
        self._mic_end = 0
        self.delay = 0  # samples, as last estimated
        self.gain = 0.0
        self._estimated = False  # a delay and gain were found over the voice sent
        self._unsure = 0  # estimates in a row that did not resemble the voice
        self._since_estimate = 0  # microphone samples since the delay was last searched for

    def add_reference(self, samples: np.ndarray, presentation_ms: int) -> None:
        """The agent's voice as sent (16 kHz), placed at `presentation_ms` on the session's clock."""
        start = presentation_ms * SAMPLE_RATE // 1000
        end = self._reference_start + len(self._reference)
        if start > end:  # silence between turns
            self._reference = np.concatenate([self._reference, np.zeros(start - end, np.float32)])
        elif start < end:  # a resend of a stretch already held: keep the newer voice
            self._reference = self._reference[: start - self._reference_start]
        self._reference = np.concatenate([self._reference, np.asarray(samples, np.float32)])
        keep = self.history + 2 * self.max_delay + 10 * SAMPLE_RATE
        if len(self._reference) > keep:
            self._reference_start += len(self._reference) - keep
            self._reference = self._reference[-keep:]

    def process(self, samples: np.ndarray, captured_at_ms: int) -> np.ndarray:
        """The microphone's 16 kHz samples (captured from `captured_at_ms` on the clock) with the agent's voice taken
        out; int16 like the input."""
        mic = np.asarray(samples, np.float32)
        start = captured_at_ms * SAMPLE_RATE // 1000
        if start != self._mic_end:  # a gap or a jump in the clock: the old history does not line up
            self._mic = np.zeros(0, np.float32)
        self._mic = np.concatenate([self._mic, mic])[-self.history :]
        self._mic_end = start + len(mic)
        self._since_estimate += len(mic)
        # The delay moves slowly and searching it costs a few ms: every quarter second, and as soon as it can be
        # found (a tenth of a second of microphone over the voice) when it is not known yet.
        if self._since_estimate >= (ESTIMATE_EVERY if self._estimated else SAMPLE_RATE // 10):
            self._since_estimate = 0
            self._estimate()
        if not self._estimated and np.any(self._reference_at(start - self.max_delay, len(mic) + self.max_delay)):
            return np.zeros(len(mic), np.int16)  # the voice may be in there and cannot be taken out yet: hear nothing
        echo = self._reference_at(start - self.delay, len(mic)) * self.gain
        return np.clip(np.rint(mic - echo), -32768, 32767).astype(np.int16)

    def _reference_at(self, start: int, length: int) -> np.ndarray:
        out = np.zeros(length, np.float32)
        offset = start - self._reference_start
        lo, hi = max(0, offset), min(len(self._reference), offset + length)
        if hi > lo:
            out[lo - offset : hi - offset] = self._reference[lo:hi]
        return out

    def _estimate(self) -> None:
        """Delay and gain of the echo over the recent microphone audio (least squares at the best correlation)."""
        mic = self._mic
        if len(mic) < SAMPLE_RATE // 10 or np.sqrt(np.mean(mic[-SAMPLE_RATE // 10 :] ** 2)) < AUDIBLE_RMS:
            return  # nothing to measure the echo on yet (a quiet microphone hides no voice either)
        first = self._mic_end - len(mic)
        ref = self._reference_at(first - self.max_delay, len(mic) + self.max_delay)
        if not np.any(ref):
            self.gain = 0.0
            return
        size = 1 << int(np.ceil(np.log2(len(ref) + len(mic))))
        # correlation[d] = sum_t mic[t] * ref[t + max_delay - d], for delays d = 0..max_delay
        spectrum = np.fft.rfft(ref, size) * np.conj(np.fft.rfft(mic, size))
        correlation = np.fft.irfft(spectrum, size)[: self.max_delay + 1][::-1]
        energy = np.convolve(ref**2, np.ones(len(mic)), "valid")[: self.max_delay + 1][::-1]
        # Normalized by the voice's energy at each delay, floored, so that a nearly silent stretch of the voice (a
        # tiny energy) cannot win by division.
        score = correlation / np.sqrt(np.maximum(energy, 0.1 * float(energy.max()) + 1e-9))
        delay = int(np.argmax(np.abs(score)))
        aligned = ref[self.max_delay - delay : self.max_delay - delay + len(mic)]
        power, mic_power = float(aligned @ aligned), float(mic @ mic)
        if power <= 0:
            return
        likeness = abs(float(mic @ aligned)) / np.sqrt(power * mic_power + 1e-9)
        self._unsure += 1
        # A window that hardly resembles the voice (the voice paused, the human talked over it) says little about
        # the echo path, which changes slowly: keep the estimate before it. A microphone that never resembles the
        # voice over a second does not hear it: no echo to take out.
        if likeness < MIN_LIKENESS and self._unsure * ESTIMATE_EVERY < SAMPLE_RATE:
            return
        self._unsure = 0
        self.delay, self.gain = (delay, float(mic @ aligned) / power) if likeness >= MIN_LIKENESS else (0, 0.0)
        self._estimated = True
