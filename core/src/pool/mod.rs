//! Thread pool (in progress).
