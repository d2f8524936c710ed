//! wip
pub mod format;
pub mod indicator;
mod iptable;
pub mod matcher;
