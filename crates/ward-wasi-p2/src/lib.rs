//! WASI preview 2 for Ward (in progress).
