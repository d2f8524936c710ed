//! The end-to-end harness: real programs, real traffic, a network namespace
//! per test, and the comparison of `vigil analyze` with tshark.
//!
//! - [`attack`]: the attack lab's roles and addresses, `vigil analyze --out`
//!   and its findings, the default ruleset's rules.
//! - [`lab`]: the namespace, the processes started in it (killed on drop,
//!   also on panic) and the packet capture.
//! - [`servers`]: nginx, dnsmasq and sshd with throw-away configurations.
//! - [`traffic`]: the clients (curl, a raw pipelining client, openssl, dig,
//!   ssh) that make the traffic.
//! - [`tshark`]: runs tshark over a capture and returns rows of fields.
//! - [`vigil`]: runs `vigil analyze` and parses its JSON Lines.
//! - [`compare`]: the same facts from both, normalised, and compared.
// Each test binary uses a different part of the harness.
#![allow(dead_code)]

pub mod attack;
pub mod compare;
pub mod lab;
pub mod servers;
pub mod traffic;
pub mod tshark;
pub mod vigil;
