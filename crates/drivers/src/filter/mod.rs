//! Filters: drivers that sit above a disk and keep, change or watch its requests.

pub mod cache;
pub mod fault;
pub mod stats;
