//! Helpers for black-box tests of the built binary.
