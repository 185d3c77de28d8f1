"""Voice guidance for the kiosk: speak the prompts of `flows/prompts.yaml` in Mandarin or English.

The UI calls a `Speaker` on every screen change (`say(prompt_key, ...)`); the speaker's worker
thread turns text into a WAV with espeak-ng (through pyttsx3 in a worker process, or the
`espeak-ng` command as a fallback), keeps fixed prompts in a bounded on-disk WAV cache so the first word follows the
screen at once, scales the volume and hands the samples to `aplay`. `interrupt()` cuts the
current utterance when the screen changes. Nothing here imports `kiosk` or `kivy`.
"""
from voice.audio import WavAudio
from voice.cache import WavCache
from voice.errors import VoiceError
from voice.null_backend import NullBackend, SpokenRecord
from voice.playback import (AplayPlayer, FilePlayer, NullSinkPlayer, Playback, Player,
                            player_for_device)
from voice.prompts import PromptBook
from voice.settings import VoiceSettings
from voice.speaker import PrewarmJob, Speaker, SpeechEvent, SpeakerStats, Utterance
from voice.synth import EspeakCliBackend, Pyttsx3Backend, Synthesizer, default_synthesizer
from voice.worker import WorkerSynthesizer

__all__ = [
    "AplayPlayer", "EspeakCliBackend", "FilePlayer", "NullBackend", "NullSinkPlayer", "Playback",
    "Player", "PrewarmJob", "PromptBook", "Pyttsx3Backend", "Speaker", "SpeakerStats",
    "SpeechEvent", "SpokenRecord", "Synthesizer", "Utterance", "VoiceError", "VoiceSettings",
    "WavAudio", "WavCache", "WorkerSynthesizer", "default_synthesizer", "player_for_device",
]
