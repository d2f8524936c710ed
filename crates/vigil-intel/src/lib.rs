//! wip
pub mod indicator;
mod iptable;
