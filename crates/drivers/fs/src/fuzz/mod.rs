//! Fuzzing entry points for the on-disk decoders and for whole images, shared by the
//! cargo-fuzz targets in `fuzz/` (`fs_ondisk`, `fs_journal`, `fs_image`) and by the corpus
//! replay test (`corpus.rs` here), so the corpus also runs in `cargo test` on stable. Built
//! for tests and with the `fuzzing` feature (which the `fuzz/` crate enables) only: it is
//! not part of the file system's API.
//!
//! Each function takes arbitrary bytes. A decoder may refuse them with an error; it must
//! not panic, and what it accepts must re-encode to bytes that decode to the same value.
//! The functions panic only when such an invariant breaks — the bug a fuzzer reports.

mod image;
mod journal;
mod ondisk;

#[cfg(test)]
mod corpus;

pub use image::image;
pub use journal::journal;
pub use ondisk::ondisk;
