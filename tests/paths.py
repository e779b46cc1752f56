"""Where the tests' own data lies: human recordings with what is said in them (`realspeech/`,
sources and licences in its README)."""

from pathlib import Path

REALSPEECH = Path(__file__).resolve().parent / "data" / "realspeech"
