"""What the tests, the benchmarks and the demo share, and the product does not need (so it is
not installed): real services started on loopback ports (`services`: Apache Kafka, an S3 server,
Beam's Prism runner), test media made from the speech clips in `devtools/data/` (`media`), the
spoken ten-minute talk of known words (`speech`), word error rates (`scoring`) and Whisper
models built from numpy arrays that decode a known script (`scripted_whisper`)."""
