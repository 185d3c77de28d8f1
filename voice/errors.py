"""The one error type of `voice/`, carrying an i18n `reason_key` the UI can show or say.

Messages are for technicians and logs: they name prompt keys, voices and devices, never the
spoken text (dynamic text may contain personal data).
"""
from __future__ import annotations

REASON_KEYS = {
    "voice.unknown_prompt": ("语音提示缺失，请看屏幕上的文字。",
                             "This voice prompt is missing. Please read the screen."),
    "voice.prompt_params": ("语音提示内容不完整，请看屏幕上的文字。",
                            "This voice prompt is incomplete. Please read the screen."),
    "voice.unknown_language": ("暂不支持这种语言的语音播报。",
                               "Voice guidance is not available in this language."),
    "voice.unknown_voice": ("语音播报暂时不能使用，请看屏幕上的文字。",
                            "Voice guidance is not available right now. Please read the screen."),
    "voice.bad_rate": ("语速设置超出范围。", "That speaking rate is out of range."),
    "voice.bad_volume": ("音量设置超出范围。", "That volume is out of range."),
    "voice.synthesis_failed": ("语音播报暂时不能使用，请看屏幕上的文字。",
                               "Voice guidance is not working right now. Please read the screen."),
    "voice.playback_failed": ("扬声器暂时不能使用，请看屏幕上的文字。",
                              "The speaker is not working right now. Please read the screen."),
    "voice.closed": ("语音播报已关闭。", "Voice guidance is switched off."),
}


class VoiceError(Exception):
    """Speech could not be produced; `reason_key` is one of `REASON_KEYS`."""

    def __init__(self, message: str, reason_key: str = "voice.synthesis_failed"):
        super().__init__(message)
        self.reason_key = reason_key
