"""`CaptionVideos`: the one composite every pipeline uses, upload request -> caption result.

    requests -> ReuseExisting -> DecodeAndChunk -> [SpreadChunks] -> Transcribe
             -> AssembleVideo -> AlignScripts -> BatchVideos -> Translate -> WriteTracks
             -> results

One file per step (`decode.py`, `transcribe.py`, `assemble.py`, `align.py`, `translate.py`,
`write.py`), each a thin DoFn over pure functions; the values between them are in `domain.py`.
A bad video
becomes a `Failure` that travels the same path and ends as a `failed` manifest; a translation
that cannot be made fails alone; nothing here raises for bad input.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from transforms.align import AlignScripts
from transforms.assemble import AssembleVideo
from transforms.decode import REUSED, SUMMARY, DecodeAndChunk, ReuseExisting
from transforms.settings import CaptionOptions
from transforms.transcribe import FAILED, TranscribeChunks
from transforms.translate import TranslateVideos
from transforms.write import WriteTracks


class CaptionVideos(beam.PTransform):
    """PCollection[UploadRequest] -> PCollection[CaptionResult] (one per distinct upload)."""

    def __init__(self, options: CaptionOptions) -> None:
        super().__init__()
        self.options = options

    def expand(self, requests: beam.PCollection) -> beam.PCollection:
        options = self.options
        checked = requests | "ReuseExisting" >> beam.ParDo(ReuseExisting(options)).with_outputs(
            REUSED, main="todo"
        )
        decoded = checked.todo | "DecodeAndChunk" >> beam.ParDo(
            DecodeAndChunk(options)
        ).with_outputs(SUMMARY, main="chunks")
        chunks = decoded.chunks
        if options.reshuffle:
            chunks = chunks | "SpreadChunks" >> beam.Reshuffle()
        transcribed = chunks | "Transcribe" >> beam.ParDo(
            TranscribeChunks(options.whisper)
        ).with_outputs(FAILED, main="transcripts")
        written = (
            (decoded[SUMMARY], transcribed.transcripts, transcribed[FAILED])
            # typed so the state key (the job) gets a deterministic coder
            | "Parts" >> beam.Flatten().with_output_types(tuple[str, Any])
            | "AssembleVideo" >> beam.ParDo(AssembleVideo(options))
            | "AlignScripts" >> beam.ParDo(AlignScripts(options))
            # the sentences of several videos go to each translator together
            | "BatchVideos"
            >> beam.BatchElements(min_batch_size=1, max_batch_size=options.translate_batch)
            | "Translate" >> beam.ParDo(TranslateVideos(options))
            | "WriteTracks" >> beam.ParDo(WriteTracks(options))
        )
        return (written, checked[REUSED]) | "Results" >> beam.Flatten()
