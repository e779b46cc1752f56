"""Which translator makes a track: for a spoken language and a target, the route. Pure.

In order of preference:

1. for English, Whisper's translate task when it runs: it hears the speech itself;
2. a text translator that has the pair (the only way without the speech: a correction);
3. through English (`pivot`): the spoken text into English by a text translator, or by
   Whisper's translate task when the pipeline runs it, then English into the target.

No route: the track fails with `unsupported_pair`, and the video's other tracks are made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.translators.base import TranslatorSpec, same_language
from schemas.languages import native_name

WHISPER = "whisper"  # the label of Whisper's translate task


@dataclass(frozen=True)
class Leg:
    """One translation: text in `source` into `target` by the spec labelled `translator`."""

    source: str
    target: str
    translator: str


@dataclass(frozen=True)
class Route:
    """How a target is made from the spoken language: `legs` of text translation, after
    Whisper's English translation when `from_whisper` (no legs: Whisper's translation is the
    track itself)."""

    target: str
    legs: tuple[Leg, ...]
    from_whisper: bool = False

    @property
    def pivot(self) -> str | None:
        """The language the route goes through, when it does ("en")."""
        if self.from_whisper and self.legs:
            return "en"
        return self.legs[0].target if len(self.legs) > 1 else None

    @property
    def translator(self) -> str:
        """How the track names what made it ("firefox", "whisper+firefox")."""
        names = ([WHISPER] if self.from_whisper else []) + [leg.translator for leg in self.legs]
        return "+".join(names)


def _spec_for(specs: Sequence[TranslatorSpec], source: str, target: str) -> TranslatorSpec | None:
    return next((s for s in specs if s.makes(source, target)), None)


def route_for(
    spoken: str,
    target: str,
    specs: Sequence[TranslatorSpec],
    *,
    whisper_english: bool = False,
) -> Route | None:
    """The route from speech in `spoken` to a track in `target`; `whisper_english`: whether
    Whisper's English translation of the speech is (or can be) made. None: no route."""
    english = target.split("-")[0] == "en"
    if english and whisper_english:
        return Route(target, (), from_whisper=True)
    direct = _spec_for(specs, spoken, target)
    if direct is not None:
        return Route(target, (Leg(spoken, target, direct.label),))
    if english:
        return None
    second = _spec_for(specs, "en", target)
    if second is None:
        return None
    to_english = _spec_for(specs, spoken, "en")
    if to_english is not None:
        legs = (Leg(spoken, "en", to_english.label), Leg("en", target, second.label))
        return Route(target, legs)
    if whisper_english:
        return Route(target, (Leg("en", target, second.label),), from_whisper=True)
    return None


def makes_target(target: str, specs: Sequence[TranslatorSpec]) -> bool:
    """Whether some route makes `target` from some spoken language (English through Whisper)."""
    return target.split("-")[0] == "en" or any(spec.writes(target) for spec in specs)


def known_targets(specs: Sequence[TranslatorSpec]) -> list[tuple[str, str]]:
    """Every target the translators make (English through Whisper too), with its native name,
    sorted by code: what `/v1/info` and refusals list."""
    codes = {"en", *(code for spec in specs for code in spec.targets())}
    return [(code, native_name(code)) for code in sorted(codes)]


def refuse_reason(targets: Sequence[str], specs: Sequence[TranslatorSpec]) -> str | None:
    """Why these targets cannot be made (naming those that can), or None when all can."""
    missing = [t for t in targets if not makes_target(t, specs)]
    if not missing:
        return None
    can = ", ".join(code for code, _ in known_targets(specs))
    return (
        f"no configured translator makes {', '.join(missing)}; these can be made: {can} "
        "(add a translator with --translators, see docs/commands.md)"
    )


def needs_whisper_english(
    spoken: str | None, targets: Sequence[str], specs: Sequence[TranslatorSpec]
) -> bool:
    """Whether the pipeline must run Whisper's translate task for these targets: for English
    from other speech, or to pivot through English when no text translator reads the speech."""
    if spoken is None:
        return any(t.split("-")[0] == "en" for t in targets)
    for target in targets:
        if same_language(spoken, target):
            continue
        route = route_for(spoken, target, specs, whisper_english=True)
        if route is not None and route.from_whisper:
            return True
    return False
