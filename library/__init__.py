"""The video library as storage keeps it: a video's upload and manifest (`videos`), its caption
tracks kept as revisions (`revisions`, `track_meta`) and the tracks asked to be made again
(`pending`). Services over `connectors.storage`'s object store, shared by the pipeline's last
step and the gateway; no Beam, no HTTP."""
