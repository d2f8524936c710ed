//! TLS fingerprints: JA3, JA3S and JA4 (BSD-3-Clause, on by default).
//! JA4+ methods other than JA4 are under the FoxIO License 1.1 and only run
//! when [`super::AppConfig::ja4plus`] is set. (Stub: to be written.)
