"""The caption rules: the broadcast defaults (`CaptionRules`) and each language's own style, from
the Netflix language-specific Timed Text Style Guides.

A track's language picks its style: characters per line (and how they are counted), adult
reading speed, and where lines break. Languages without a style of their own keep the base
rules (the Latin-script defaults, or what the user set with --max-chars-per-line). Pure logic.

Sources (partnerhelp.netflixstudios.com, articles): Japanese 215767517, Simplified Chinese
215986007, Traditional Chinese 215994807, Korean 216001127, Thai 220448308, Arabic 215517947,
Hindi 115003196707. Reading speeds of Japanese, Chinese, Korean, Arabic and Hindi as Subtitle
Edit's Netflix checker copies them (second-hand: docs/architecture.md, "Caption rules").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from captions.line_breaks import PHRASE_SEGMENTERS, text_width


@dataclass(frozen=True)
class CaptionRules:
    """The caption style; every default comes from a broadcast style guide."""

    # Netflix TTSG "Characters per line: 42"; BBC allows 37-42 characters.
    max_chars_per_line: int = 42
    # Netflix TTSG "Maximum of 2 lines"; DCMP: "no more than two lines".
    max_lines: int = 2
    # Netflix TTSG "Minimum duration: 5/6 of a second per subtitle event".
    min_duration_s: float = 5 / 6
    # Netflix TTSG "Maximum duration: 7 seconds per subtitle event".
    max_duration_s: float = 7.0
    # Netflix TTSG Timing: at least 2 frames between subtitle events (2 frames at 24 fps).
    min_gap_s: float = 2 / 24
    # Netflix TTSG Timing: gaps under 12 frames (about 0.5 s) close to 2 frames ("chaining").
    chain_gap_s: float = 0.5
    # Netflix TTSG "Reading speed: up to 17 characters per second" (adult programs).
    max_chars_per_second: float = 17.0
    # BBC Timing: do not run a subtitle across a long pause; DCMP: captions in sync with speech.
    max_pause_in_cue_s: float = 1.5
    # BBC Timing: subtitles should not linger after the speech (DCMP: caption in sync with audio).
    max_linger_s: float = 0.5
    # Netflix Japanese, Chinese and Korean guides: half-width characters count as half a one.
    half_width_weight: float = 1.0
    # Writing without spaces between words: a segmenter name from PHRASE_SEGMENTERS ("ja",
    # "zh-hans", "zh-hant", "th", "chars"); None: breaks at the model's spaces.
    phrases: str | None = None

    def __post_init__(self) -> None:
        if self.max_chars_per_line < 1 or self.max_lines < 1:
            raise ValueError("a cue needs at least one line of at least one character")
        if not 0 < self.min_duration_s <= self.max_duration_s or self.min_gap_s < 0:
            raise ValueError("need 0 < min_duration_s <= max_duration_s and min_gap_s >= 0")
        if not 0 < self.half_width_weight <= 1:
            raise ValueError("half_width_weight must be in (0, 1]")
        if self.phrases is not None and self.phrases not in PHRASE_SEGMENTERS:
            raise ValueError(f"phrases: one of {PHRASE_SEGMENTERS} or None, not {self.phrases!r}")

    def width(self, text: str) -> float:
        """How much of a line `text` takes under these rules."""
        return text_width(text, self.half_width_weight)


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
    "zh-Hant": LanguageStyle(16, 9.0, 0.5, "zh-hant"),
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


def primary_language(language: str | None) -> str:
    """The language of a language code, without script or region: `pt-BR` -> `pt`."""
    return (language or "").split("-")[0].lower()


def is_right_to_left(language: str | None) -> bool:
    """True for a language written right to left (Arabic, Hebrew, Persian, Urdu, ...)."""
    return primary_language(language) in RIGHT_TO_LEFT


def rules_for_language(language: str | None, base: CaptionRules) -> CaptionRules:
    """The caption rules for a track in `language` (a region or script does not change them):
    its guide's style over `base`."""
    style = STYLES.get(language or "") or STYLES.get(primary_language(language))
    if style is None:
        return base
    return replace(
        base,
        max_chars_per_line=style.max_chars_per_line,
        max_chars_per_second=style.max_chars_per_second or base.max_chars_per_second,
        half_width_weight=style.half_width_weight,
        phrases=style.phrases,
    )
