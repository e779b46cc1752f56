"""Caption logic, pure (no Beam, no storage): cue layout (`cues`, `line_breaks`), the caption
rules of each language (`rules`), a cue's markup (`markup`), reading the caption files people
bring (`reading`) and writing every track format (`formats`)."""
