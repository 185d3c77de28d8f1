"""The prompt texts the speaker may say: `flows/prompts.yaml` keyed, zh and en, with {params}.

`PromptBook.load()` reads the YAML itself (so voice works even while the rest of the catalogue
is being edited); `PromptBook.from_catalog(catalog)` reuses an already loaded
`flows.catalog.Catalog`. Filling placeholders is strict: a missing or unexpected parameter is a
`VoiceError("voice.prompt_params")`, never a half-spoken sentence.
"""
from __future__ import annotations

import string
from pathlib import Path
from typing import Mapping

import yaml

from voice.errors import VoiceError

PROMPTS_YAML = Path(__file__).resolve().parents[1] / "flows" / "prompts.yaml"
LANGUAGES = ("zh", "en")


def placeholders(template: str) -> frozenset[str]:
    """The `{names}` a template needs (format specs and conversions are allowed)."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


class PromptBook:
    """Prompt key -> {"zh": text, "en": text}."""

    def __init__(self, texts: Mapping[str, Mapping[str, str]]):
        problems = []
        self._texts: dict[str, dict[str, str]] = {}
        for key, entry in texts.items():
            if not isinstance(key, str) or not isinstance(entry, Mapping):
                problems.append(f"{key!r}: expected a mapping with zh and en")
                continue
            missing = [lang for lang in LANGUAGES
                       if not isinstance(entry.get(lang), str) or not entry.get(lang).strip()]
            if missing:
                problems.append(f"{key}: missing or empty {', '.join(missing)}")
                continue
            self._texts[key] = {lang: entry[lang] for lang in LANGUAGES}
        if problems:
            raise ValueError("bad prompts: " + "; ".join(problems))

    @classmethod
    def load(cls, path: Path | str = PROMPTS_YAML) -> "PromptBook":
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of prompt keys")
        return cls(data)

    @classmethod
    def from_catalog(cls, catalog) -> "PromptBook":
        """Reuse `flows.catalog.Catalog.prompts` (values with `.zh` and `.en`)."""
        return cls({k: {"zh": t.zh, "en": t.en} for k, t in catalog.prompts.items()})

    def keys(self) -> list[str]:
        return list(self._texts)

    def __contains__(self, key: str) -> bool:
        return key in self._texts

    def template(self, key: str, language: str) -> str:
        if language not in LANGUAGES:
            raise VoiceError(f"unsupported language {language!r}", "voice.unknown_language")
        try:
            return self._texts[key][language]
        except KeyError:
            raise VoiceError(f"no prompt {key!r}", "voice.unknown_prompt") from None

    def is_fixed(self, key: str) -> bool:
        """True when no language of the prompt has placeholders (it can be prewarmed)."""
        return all(not placeholders(self.template(key, lang)) for lang in LANGUAGES)

    def text(self, key: str, language: str, params: Mapping[str, object] | None = None) -> str:
        template = self.template(key, language)
        needed = placeholders(template)
        given = set(params or {})
        if needed != given:
            raise VoiceError(f"prompt {key!r} needs params {sorted(needed)}, got {sorted(given)}",
                             "voice.prompt_params")
        if not needed:
            return template
        try:
            return template.format_map(dict(params))
        except (ValueError, AttributeError, IndexError, KeyError) as e:
            raise VoiceError(f"prompt {key!r}: cannot fill placeholders ({type(e).__name__})",
                             "voice.prompt_params") from None
