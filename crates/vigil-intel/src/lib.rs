//! wip
pub mod indicator;
mod iptable;
pub mod matcher;
