//! Workspace member holding mqtide's examples; see the `examples/` folder.
