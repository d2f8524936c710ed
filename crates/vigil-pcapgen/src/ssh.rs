//! SSH sessions and opaque bulk transfers.
//!
//! SSH: the server's and the client's version strings, both KEXINITs with the name-lists
//! of real OpenSSH/PuTTY/Go clients and OpenSSH/GitHub servers, the curve25519 ECDH
//! exchange and NEWKEYS in clear (binary packets with correct lengths and padding), then
//! encrypted packets: interactive keystrokes and echoes, or a bulk copy (scp, git).
//!
//! Bulk: a short opaque request, then megabytes of opaque data one way (backup, file
//! sync), on ports no common dissector claims.

use crate::content::{Piece, Pools, Stream};
use crate::dist::{self, between, chance, lognormal, ns, pick, Rng};
use crate::sched::Tally;
use crate::tcp::{pace, App, AppCx, Message, CLIENT, SERVER};

const CLIENT_BANNERS: &[&str] = &[
    "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3",
    "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10",
    "SSH-2.0-OpenSSH_for_Windows_8.1",
    "SSH-2.0-PuTTY_Release_0.81",
    "SSH-2.0-Go",
    "SSH-2.0-OpenSSH_9.8",
];

const SERVERS: &[(&str, &str)] = &[
    ("github.com", "SSH-2.0-babeld-8405f9f3"),
    (
        "bastion.example.net",
        "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10",
    ),
    ("git.example.org", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"),
    ("sftp.example.com", "SSH-2.0-OpenSSH_7.4"),
    (
        "build-01.example.io",
        "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5",
    ),
];

const KEX_CLIENT: &str = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,ext-info-c";
const KEX_SERVER: &str = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256";
const HOSTKEY_CLIENT: &str = "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256";
const HOSTKEY_SERVER: &str = "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519";
const CIPHERS: &str = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
const MACS: &str = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
const COMPRESSION: &str = "none,zlib@openssh.com";

fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A cleartext binary packet (RFC 4253 §6): length, padding length, payload, padding to a
/// multiple of 8 with at least 4 bytes.
pub(crate) fn binary_packet(rng: &mut Rng, payload: &[u8]) -> Vec<u8> {
    let mut padding = 8 - (5 + payload.len()) % 8;
    if padding < 4 {
        padding += 8;
    }
    let mut out = Vec::with_capacity(5 + payload.len() + padding);
    out.extend_from_slice(&((1 + payload.len() + padding) as u32).to_be_bytes());
    out.push(padding as u8);
    out.extend_from_slice(payload);
    out.extend_from_slice(&dist::bytes(rng, padding));
    out
}

fn kexinit(rng: &mut Rng, client: bool) -> Vec<u8> {
    let mut payload = vec![20u8];
    payload.extend_from_slice(&dist::bytes(rng, 16));
    let (kex, hostkey) = if client {
        (KEX_CLIENT, HOSTKEY_CLIENT)
    } else {
        (KEX_SERVER, HOSTKEY_SERVER)
    };
    for list in [
        kex,
        hostkey,
        CIPHERS,
        CIPHERS,
        MACS,
        MACS,
        COMPRESSION,
        COMPRESSION,
        "",
        "",
    ] {
        string(&mut payload, list.as_bytes());
    }
    payload.push(0);
    payload.extend_from_slice(&[0; 4]);
    binary_packet(rng, &payload)
}

fn ecdh_init(rng: &mut Rng) -> Vec<u8> {
    let mut payload = vec![30u8];
    string(&mut payload, &dist::bytes(rng, 32));
    binary_packet(rng, &payload)
}

fn ecdh_reply_and_newkeys(rng: &mut Rng) -> Vec<u8> {
    let mut host_key = Vec::new();
    string(&mut host_key, b"ssh-ed25519");
    string(&mut host_key, &dist::bytes(rng, 32));
    let mut signature = Vec::new();
    string(&mut signature, b"ssh-ed25519");
    string(&mut signature, &dist::bytes(rng, 64));
    let mut payload = vec![31u8];
    string(&mut payload, &host_key);
    string(&mut payload, &dist::bytes(rng, 32));
    string(&mut payload, &signature);
    let mut out = binary_packet(rng, &payload);
    out.extend_from_slice(&binary_packet(rng, &[21]));
    out
}

/// Encrypted packets (chacha20-poly1305: 4-byte length, padded payload, 16-byte tag).
fn encrypted(stream: &mut Stream, rng: &mut Rng, count: u64, payload_lo: u64, payload_hi: u64) {
    for _ in 0..count {
        let len = 4 + between(rng, payload_lo, payload_hi).div_ceil(8) * 8 + 16;
        stream.push(Piece::Opaque {
            left: len,
            at: Pools::offset(rng),
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SshStage {
    ServerBanner,
    ClientBanner,
    ServerKexinit,
    EcdhInit,
    EcdhReply,
    NewKeys,
    Auth(u8),
    Interactive,
    Echo,
    Bulk,
    Done,
}

/// The script of one SSH connection.
#[derive(Debug)]
pub(crate) struct SshApp {
    client_banner: &'static str,
    server_banner: &'static str,
    stage: SshStage,
    keystrokes: u32,
    bulk: Option<u64>,
    rate_bps: f64,
}

impl SshApp {
    /// A connection: the script and the server's name.
    pub(crate) fn new(rng: &mut Rng, cap: u64) -> (Self, String) {
        let (name, server_banner) = *pick(rng, SERVERS);
        let bulk = chance(rng, 0.1).then(|| lognormal(rng, 300_000.0, 1.2, 20_000, cap));
        let app = Self {
            client_banner: *pick(rng, CLIENT_BANNERS),
            server_banner,
            stage: SshStage::ServerBanner,
            keystrokes: lognormal(rng, 30.0, 1.0, 2, 400) as u32,
            bulk,
            rate_bps: lognormal(rng, 20e6, 1.0, 1_000_000, 300_000_000) as f64,
        };
        (app, name.to_string())
    }
}

impl App for SshApp {
    fn next(&mut self, cx: &mut AppCx<'_>) -> Option<Message> {
        let rng = &mut *cx.rng;
        let mut stream = Stream::default();
        let mut tallies = Vec::new();
        let mut ns_per_byte = 8.0;
        let (from, delay) = match self.stage {
            SshStage::ServerBanner => {
                stream.push_bytes(format!("{}\r\n", self.server_banner).into_bytes());
                tallies.push(Tally::SshBanner);
                self.stage = SshStage::ClientBanner;
                (SERVER, between(rng, 1_000_000, 20_000_000))
            }
            SshStage::ClientBanner => {
                stream.push_bytes(format!("{}\r\n", self.client_banner).into_bytes());
                stream.push_bytes(kexinit(rng, true));
                tallies.push(Tally::SshBanner);
                self.stage = SshStage::ServerKexinit;
                (CLIENT, between(rng, 200_000, 2_000_000))
            }
            SshStage::ServerKexinit => {
                stream.push_bytes(kexinit(rng, false));
                self.stage = SshStage::EcdhInit;
                (SERVER, between(rng, 100_000, 1_000_000))
            }
            SshStage::EcdhInit => {
                stream.push_bytes(ecdh_init(rng));
                self.stage = SshStage::EcdhReply;
                (CLIENT, between(rng, 200_000, 1_000_000))
            }
            SshStage::EcdhReply => {
                stream.push_bytes(ecdh_reply_and_newkeys(rng));
                self.stage = SshStage::NewKeys;
                (SERVER, between(rng, 500_000, 5_000_000))
            }
            SshStage::NewKeys => {
                stream.push_bytes(binary_packet(rng, &[21]));
                encrypted(&mut stream, rng, 1, 20, 20);
                self.stage = SshStage::Auth(0);
                (CLIENT, between(rng, 100_000, 1_000_000))
            }
            SshStage::Auth(round) => {
                let from = if round % 2 == 0 { SERVER } else { CLIENT };
                let count = between(rng, 1, 2);
                encrypted(
                    &mut stream,
                    rng,
                    count,
                    20,
                    if round == 3 { 400 } else { 120 },
                );
                self.stage = if round < 5 {
                    SshStage::Auth(round + 1)
                } else if self.bulk.is_some() {
                    SshStage::Bulk
                } else {
                    SshStage::Interactive
                };
                (from, between(rng, 200_000, 30_000_000))
            }
            SshStage::Interactive => {
                encrypted(&mut stream, rng, 1, 1, 20);
                self.keystrokes = self.keystrokes.saturating_sub(1);
                self.stage = SshStage::Echo;
                (
                    CLIENT,
                    ns(lognormal(rng, 150_000.0, 1.0, 30_000, 10_000_000) as f64 / 1e6),
                )
            }
            SshStage::Echo => {
                let big = chance(rng, 0.1);
                let count = if big { between(rng, 2, 20) } else { 1 };
                encrypted(&mut stream, rng, count, 1, if big { 1400 } else { 40 });
                self.stage = if self.keystrokes > 0 {
                    SshStage::Interactive
                } else {
                    SshStage::Done
                };
                (SERVER, between(rng, 100_000, 3_000_000))
            }
            SshStage::Bulk => {
                let size = self.bulk.take().unwrap_or(0);
                let packets = size / 32_768 + 1;
                for _ in 0..packets {
                    stream.push(Piece::Opaque {
                        left: 4 + 32_768 + 16,
                        at: Pools::offset(rng),
                    });
                }
                ns_per_byte = pace(size, self.rate_bps);
                self.stage = SshStage::Done;
                (SERVER, between(rng, 1_000_000, 50_000_000))
            }
            SshStage::Done => return None,
        };
        Some(Message {
            from,
            delay,
            stream,
            ns_per_byte,
            tallies,
        })
    }
}

/// Ports of the bulk transfers (no common dissector claims them).
const BULK_PORTS: &[u16] = &[9102, 22000, 8200, 10443];

/// The script of one opaque bulk transfer.
#[derive(Debug)]
pub(crate) struct BulkApp {
    upload: bool,
    size: u64,
    stage: u8,
    rate_bps: f64,
}

impl BulkApp {
    /// A transfer: the script, the server's name and port.
    pub(crate) fn new(rng: &mut Rng) -> (Self, String, u16) {
        let app = Self {
            upload: chance(rng, 0.3),
            size: 0,
            stage: 0,
            rate_bps: lognormal(rng, 60e6, 0.9, 5_000_000, 900_000_000) as f64,
        };
        let name = format!("backup-{:02}.example.net", between(rng, 1, 12));
        (app, name, *pick(rng, BULK_PORTS))
    }
}

impl App for BulkApp {
    fn next(&mut self, cx: &mut AppCx<'_>) -> Option<Message> {
        let rng = &mut *cx.rng;
        let mut stream = Stream::default();
        let message = match self.stage {
            0 => {
                self.size = lognormal(rng, 150_000.0, 1.6, 20_000, cx.cap);
                stream.push(Piece::Opaque {
                    left: between(rng, 40, 400),
                    at: Pools::offset(rng),
                });
                Message {
                    from: CLIENT,
                    delay: between(rng, 100_000, 1_000_000),
                    stream,
                    ns_per_byte: 8.0,
                    tallies: Vec::new(),
                }
            }
            1 => {
                stream.push(Piece::Opaque {
                    left: between(rng, 16, 200),
                    at: Pools::offset(rng),
                });
                Message {
                    from: SERVER,
                    delay: between(rng, 100_000, 5_000_000),
                    stream,
                    ns_per_byte: 8.0,
                    tallies: Vec::new(),
                }
            }
            2 => {
                stream.push(Piece::Opaque {
                    left: self.size,
                    at: Pools::offset(rng),
                });
                let from = if self.upload { CLIENT } else { SERVER };
                Message {
                    from,
                    delay: between(rng, 100_000, 2_000_000),
                    stream,
                    ns_per_byte: pace(self.size, self.rate_bps),
                    tallies: Vec::new(),
                }
            }
            3 => {
                stream.push(Piece::Opaque {
                    left: between(rng, 16, 64),
                    at: Pools::offset(rng),
                });
                let from = if self.upload { SERVER } else { CLIENT };
                Message {
                    from,
                    delay: between(rng, 100_000, 2_000_000),
                    stream,
                    ns_per_byte: 8.0,
                    tallies: Vec::new(),
                }
            }
            _ => return None,
        };
        self.stage += 1;
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_packets_are_padded_to_eight_with_at_least_four() {
        let mut rng = crate::dist::rng(3, 0);
        for len in 1..64 {
            let packet = binary_packet(&mut rng, &vec![7u8; len]);
            assert_eq!(packet.len() % 8, 0);
            let packet_length = u32::from_be_bytes(packet[..4].try_into().unwrap()) as usize;
            assert_eq!(packet_length + 4, packet.len());
            assert!(packet[4] >= 4);
        }
        let kex = kexinit(&mut rng, true);
        assert_eq!(kex[5], 20);
    }
}
