"""Caption rules by language, from the Netflix language-specific Timed Text Style Guides.

A track's language picks its style: characters per line (and how they are counted), adult
reading speed, and where lines break. Languages without a style of their own keep the base
rules (the Latin-script defaults, or what the user set with --max-chars-per-line). Pure logic.

Sources (partnerhelp.netflixstudios.com, articles): Japanese 215767517, Simplified Chinese
215986007, Traditional Chinese 215994807, Korean 216001127, Thai 220448308, Arabic 215517947,
Hindi 115003196707. Reading speeds of Japanese, Chinese, Korean, Arabic and Hindi as Subtitle
Edit's Netflix checker copies them (second-hand; see shared/notes/caption-rules-by-language.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from transforms.cues import CaptionRules


@dataclass(frozen=True)
class LanguageStyle:
    """What a language's guide sets; everything else comes from the base rules."""

    max_chars_per_line: int
    max_chars_per_second: float | None  # None: keep the base reading speed
    half_width_weight: float = 1.0
    phrases: str | None = None  # see CaptionRules.phrases


STYLES: dict[str, LanguageStyle] = {
    # Japanese: 13 full-width characters a line (horizontal), half-width counts 0.5; 4 cps.
    "ja": LanguageStyle(13, 4.0, 0.5, "ja"),
    # Chinese: 16 characters a line, half-width Latin and punctuation 0.5; 9 cps.
    "zh": LanguageStyle(16, 9.0, 0.5, "zh-hans"),
    "yue": LanguageStyle(16, 9.0, 0.5, "zh-hant"),  # Cantonese: Traditional Chinese guide
    # Korean: 16 characters a line, Latin letters, spaces and punctuation 0.5; 12 cps; breaks
    # only at spaces (between eojeol), as in spaced writing.
    "ko": LanguageStyle(16, 12.0, 0.5),
    # Thai: 35 characters a line; no spaces between words, so breaks between BudouX words.
    "th": LanguageStyle(35, None, 1.0, "th"),
    # Lao and Burmese are written without spaces too; no segmenter: between any model words.
    "lo": LanguageStyle(35, None, 1.0, "chars"),
    "my": LanguageStyle(35, None, 1.0, "chars"),
    # Arabic and Hindi: 42 characters a line like English, faster adult reading speeds.
    "ar": LanguageStyle(42, 20.0),
    "hi": LanguageStyle(42, 22.0),
}

# Written right to left: a WebVTT cue's direction comes from its first strong character.
RIGHT_TO_LEFT = frozenset({"ar", "fa", "he", "ps", "sd", "ur", "yi"})


def rules_for_language(language: str | None, base: CaptionRules) -> CaptionRules:
    """The caption rules for a track in `language`: its guide's style over `base`."""
    style = STYLES.get((language or "").lower())
    if style is None:
        return base
    return replace(
        base,
        max_chars_per_line=style.max_chars_per_line,
        max_chars_per_second=style.max_chars_per_second or base.max_chars_per_second,
        half_width_weight=style.half_width_weight,
        phrases=style.phrases,
    )
