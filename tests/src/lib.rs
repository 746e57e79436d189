//! Workspace member holding mqtide's tests; see the `tests/` folder.
