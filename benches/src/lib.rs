//! Workspace member holding mqtide's benches; see the `benches/` folder.
