"""What a captioning run is told: the model's settings and the composite's options.

Plain frozen dataclasses, picklable to Beam workers, with no Beam or faster-whisper import, so
the CLI can build them (and `autocaption --help` can run) without loading either.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from captions.cues import CaptionRules
from connectors.storage.layout import CAPTIONS_ROOT
from connectors.translators import TranslatorSpec
from connectors.translators.firefox import FirefoxSpec
from schemas.events import PIPELINE_VERSION
from schemas.formats import FORMAT_NAMES
from transforms.chunks import ChunkingOptions


@dataclass(frozen=True)
class WhisperSettings:
    """How to load and run the model; every field is a CLI option."""

    model: str = "small"  # a faster-whisper name (downloaded on first use) or a local folder
    device: str = "auto"
    compute_type: str = "default"
    beam_size: int = 5
    batch_size: int = 0  # chunks per model call; 0: see transforms.whisper.inference_layout
    cpu_threads: int = 0  # CTranslate2 threads per inference worker; 0: choose
    inference_workers: int = 0  # batches decoded at once per process; 0: choose
    max_new_tokens: int | None = None
    download_root: str | None = None
    label: str = ""  # how manifests name the model; default: the name, or the folder's name

    @property
    def model_label(self) -> str:
        """The model as named in manifests and events."""
        if self.label:
            return self.label
        return (
            os.path.basename(os.path.normpath(self.model)) if os.sep in self.model else self.model
        )


@dataclass(frozen=True)
class CaptionOptions:
    """Everything `CaptionVideos` needs besides the input; picklable."""

    storage_url: str
    whisper: WhisperSettings = field(default_factory=WhisperSettings)
    rules: CaptionRules = field(default_factory=CaptionRules)
    chunking: ChunkingOptions = field(default_factory=ChunkingOptions)
    formats: tuple[str, ...] = FORMAT_NAMES  # every format of the registry
    default_language: str | None = None  # None: detect
    translate_to: tuple[str, ...] = ()  # for uploads that name no targets of their own
    # The text translators, in order of preference (connectors.translators): by default
    # Mozilla's English <-> Brazilian Portuguese models; English from other speech is always
    # Whisper's own translation.
    translators: tuple[TranslatorSpec, ...] = (FirefoxSpec(),)
    translate_batch: int = 16  # videos whose sentences are translated together
    hotwords: str | None = None  # vocabulary for uploads that bring none of their own
    initial_prompt: str | None = None
    max_duration_s: float | None = 4 * 3600.0
    max_source_bytes: int | None = 8 * 2**30  # s3:// sources are staged in a bounded temp file
    # file:// sources must lie under one of these folders; empty: anywhere (the inputs a user
    # names to `caption` and `backfill`; the stream service then refuses file:// events)
    file_roots: tuple[str, ...] = ()
    captions_root: str = CAPTIONS_ROOT  # "": outputs directly under the storage URL (the CLI)
    # Spread one long video's chunks over workers. Off locally: the FnApiRunner would hold every
    # chunk's audio in memory at that boundary, while without it audio streams through.
    reshuffle: bool = False
    # An upload whose ready manifest exists for this source, pipeline version, model and
    # vocabulary is answered from that manifest, without decoding or inference (replays,
    # resumed backfills).
    reuse_existing: bool = False

    @property
    def keeps_revisions(self) -> bool:
        """Whether tracks are kept as revisions (storage under the layout's `captions/` root,
        which the gateway's captions API edits), not written as plain files (`caption --out`)."""
        return self.captions_root == CAPTIONS_ROOT

    @property
    def version(self) -> str:
        """What makes outputs differ: the pipeline's version and the model's."""
        return f"{PIPELINE_VERSION}/{self.whisper.model_label}"
