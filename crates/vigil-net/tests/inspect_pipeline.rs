//! The payload-inspection seam over a real capture: a recording inspector
//! (a real implementation of `PayloadInspector` that keeps what it is
//! given) checks that every protocol buffer arrives with the values the
//! protocol records carry, at the inspection points the contract lists.
//!
//! `examples/capture/sample.pcap` is real traffic (see
//! `examples/capture/make-sample.sh`): curl against nginx with keep-alive,
//! a POST and a HEAD, two pipelined connections, TLS 1.2 and 1.3, dig
//! against dnsmasq over UDP and TCP, SSH version exchanges.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use vigil_event::{Body, Event, FlowRecord, StatsRecord};
use vigil_net::app::{http::normalize_uri, AppProto, Direction};
use vigil_net::capture::CaptureReader;
use vigil_net::inspect::{Buffer, InspectCtx, InspectLimits, PayloadInspector};
use vigil_net::pipeline::{Pipeline, PipelineConfig};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/capture/sample.pcap"
);

/// One inspection point as the recorder saw it.
#[derive(Debug, Clone)]
struct Point {
    uid: String,
    dir: Direction,
    to_server: bool,
    established: bool,
    app: Option<AppProto>,
    ip_protocol: u8,
    packet: u64,
    stream_offset: u64,
    bufs: BTreeMap<Buffer, Vec<u8>>,
}

impl Point {
    fn get(&self, b: Buffer) -> Option<&[u8]> {
        self.bufs.get(&b).map(Vec::as_slice)
    }
    fn text(&self, b: Buffer) -> Option<String> {
        self.get(b).map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

#[derive(Debug, Default)]
struct Seen {
    points: Vec<Point>,
    /// flow_end calls, in order, with the number of points seen before.
    ends: Vec<(String, usize)>,
}

/// Records every call; emits a stand-in finding for each DNS query so the
/// stamping of inspector output can be checked.
#[derive(Debug)]
struct Recorder {
    seen: Arc<Mutex<Seen>>,
    emit_on_dns: bool,
}

impl PayloadInspector for Recorder {
    fn inspect(&mut self, ctx: &InspectCtx<'_>, buffers: &[(Buffer, &[u8])], out: &mut Vec<Event>) {
        let mut bufs = BTreeMap::new();
        for (b, bytes) in buffers {
            assert!(
                bufs.insert(*b, bytes.to_vec()).is_none(),
                "each buffer kind at most once per point"
            );
        }
        if self.emit_on_dns && bufs.contains_key(&Buffer::DnsQuery) {
            out.push(Event::new(ctx.ts, Body::Stats(StatsRecord::default())));
        }
        self.seen.lock().unwrap().points.push(Point {
            uid: ctx.flow.connection_info.uid.clone(),
            dir: ctx.dir,
            to_server: ctx.to_server,
            established: ctx.established,
            app: ctx.app,
            ip_protocol: ctx.ip_protocol,
            packet: ctx.packet,
            stream_offset: ctx.stream_offset,
            bufs,
        });
    }

    fn flow_end(&mut self, flow_uid: &str) {
        let mut seen = self.seen.lock().unwrap();
        let n = seen.points.len();
        seen.ends.push((flow_uid.to_owned(), n));
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![("recorded", self.seen.lock().unwrap().points.len() as u64)]
    }
}

struct Run {
    events: Vec<Event>,
    stats: StatsRecord,
    seen: Seen,
}

fn run(limits: InspectLimits, inspector: bool, emit_on_dns: bool) -> Run {
    let file = std::fs::File::open(SAMPLE).expect("examples/capture/sample.pcap is in the repo");
    let mut reader = CaptureReader::new(file).unwrap();
    let config = PipelineConfig {
        inspect: limits,
        ..PipelineConfig::default()
    };
    let mut p = Pipeline::new(config);
    p.set_log_name("sample.pcap");
    let seen = Arc::new(Mutex::new(Seen::default()));
    if inspector {
        p.set_inspector(Box::new(Recorder {
            seen: seen.clone(),
            emit_on_dns,
        }));
    }
    let out = p.run_capture(&mut reader);
    assert!(out.capture_errors.is_empty());
    let stats = p.stats();
    drop(p);
    let seen = Arc::try_unwrap(seen).unwrap().into_inner().unwrap();
    Run {
        events: out.events,
        stats,
        seen,
    }
}

fn default_run() -> Run {
    run(InspectLimits::default(), true, false)
}

fn flows(events: &[Event]) -> Vec<&FlowRecord> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Flow(f) => Some(f),
            _ => None,
        })
        .collect()
}

fn uid(e: &Event) -> String {
    e.metadata.correlation_uid.clone().unwrap()
}

#[test]
fn every_http_request_and_response_arrives_with_the_record_values() {
    let r = default_run();
    // Records per flow, in order; request/response points per flow, in order.
    let mut records: BTreeMap<String, Vec<&vigil_event::HttpActivity>> = BTreeMap::new();
    for e in &r.events {
        if let Body::Http(h) = &e.body {
            records.entry(uid(e)).or_default().push(h);
        }
    }
    let mut reqs: BTreeMap<String, Vec<&Point>> = BTreeMap::new();
    let mut resps: BTreeMap<String, Vec<&Point>> = BTreeMap::new();
    for p in &r.seen.points {
        if p.get(Buffer::HttpMethod).is_some() {
            reqs.entry(p.uid.clone()).or_default().push(p);
        }
        if p.get(Buffer::HttpStatCode).is_some() {
            resps.entry(p.uid.clone()).or_default().push(p);
        }
    }
    let total: usize = records.values().map(Vec::len).sum();
    assert!(total >= 8, "the sample has many HTTP transactions: {total}");
    assert_eq!(
        records.keys().collect::<Vec<_>>(),
        reqs.keys().collect::<Vec<_>>()
    );
    let mut bodies = 0;
    for (flow, recs) in &records {
        let points = &reqs[flow];
        assert_eq!(
            points.len(),
            recs.len(),
            "one request point per request in {flow}"
        );
        for (p, h) in points.iter().zip(recs) {
            let req = &h.http_request;
            assert!(p.to_server && p.established);
            assert_eq!(p.dir, Direction::ToResponder);
            assert_eq!(p.app, Some(AppProto::Http));
            assert_eq!(p.ip_protocol, 6);
            assert_eq!(p.text(Buffer::HttpMethod).unwrap(), req.http_method);
            assert_eq!(p.text(Buffer::HttpRawUri).unwrap(), req.url.url_string);
            let mut uri = Vec::new();
            normalize_uri(&req.url.path, req.url.query_string.as_deref(), &mut uri);
            assert_eq!(p.get(Buffer::HttpUri).unwrap(), uri.as_slice());
            assert_eq!(
                p.text(Buffer::HttpHost),
                req.url.hostname.as_ref().map(|h| h.to_ascii_lowercase())
            );
            assert_eq!(p.text(Buffer::HttpUserAgent), req.user_agent);
            let header = p.text(Buffer::HttpHeader).unwrap();
            assert!(header.ends_with("\r\n") && !header.contains(" HTTP/1."));
            if let Some(ua) = &req.user_agent {
                assert!(
                    header.contains(&format!("User-Agent: {ua}\r\n")),
                    "{header}"
                );
            }
            // The body, when there is one, in the same point as the URI.
            let body = p.get(Buffer::HttpRequestBody).map_or(0, <[u8]>::len) as u64;
            assert_eq!(body, req.body_length);
            bodies += usize::from(body > 0);
        }
        let resp_recs: Vec<_> = recs
            .iter()
            .filter_map(|h| h.http_response.as_ref())
            .collect();
        let resp_points = resps.get(flow).cloned().unwrap_or_default();
        assert_eq!(resp_points.len(), resp_recs.len(), "responses of {flow}");
        for (p, resp) in resp_points.iter().zip(resp_recs) {
            assert!(!p.to_server);
            assert_eq!(p.dir, Direction::ToOriginator);
            assert_eq!(p.text(Buffer::HttpStatCode).unwrap(), resp.code.to_string());
            let file = p.get(Buffer::FileData).map_or(0, <[u8]>::len) as u64;
            assert_eq!(file, resp.length.min(64 * 1024));
            assert!(p.get(Buffer::HttpResponseHeader).is_some());
        }
    }
    assert!(bodies >= 1, "the POST's body arrives");
    // Pipelined requests: several request points completed by one packet,
    // each its own point.
    let pipelined = reqs.values().any(|ps| {
        ps.windows(2).any(|w| {
            w[0].packet == w[1].packet && w[0].get(Buffer::HttpUri) != w[1].get(Buffer::HttpUri)
        })
    });
    assert!(
        pipelined,
        "pipelined requests in one segment are separate points"
    );
}

#[test]
fn bodies_are_cut_at_the_limit() {
    let limits = InspectLimits {
        max_body_bytes: 16,
        ..InspectLimits::default()
    };
    let r = run(limits, true, false);
    let mut longest = 0;
    let mut cut = 0;
    for p in &r.seen.points {
        for b in [Buffer::HttpRequestBody, Buffer::FileData] {
            if let Some(body) = p.get(b) {
                assert!(body.len() <= 16);
                longest = longest.max(body.len());
                cut += usize::from(body.len() == 16);
            }
        }
    }
    assert_eq!(longest, 16);
    assert!(cut >= 1);
    assert!(r.stats.get("app", "http.inspect_body_cut") >= 1);
    // The large response's body starts as the response's first bytes do.
    let file = r
        .seen
        .points
        .iter()
        .filter_map(|p| p.get(Buffer::FileData))
        .find(|b| b.len() == 16);
    assert!(file.is_some());
}

#[test]
fn dns_queries_and_tls_hellos_and_certificates_arrive() {
    let r = default_run();
    let mut names = BTreeSet::new();
    let mut sni = BTreeSet::new();
    let mut ja3 = BTreeSet::new();
    let mut subjects = BTreeSet::new();
    for e in &r.events {
        match &e.body {
            Body::Dns(d) if !d.query.hostname.is_empty() => {
                names.insert(d.query.hostname.clone());
            }
            Body::Tls(t) => {
                if let Some(s) = &t.tls.sni {
                    sni.insert(s.clone());
                }
                if let Some(h) = &t.tls.ja3_hash {
                    ja3.insert(h.clone());
                }
                if let Some(c) = &t.tls.certificate {
                    // RFC 4514 is last-RDN-first; Suricata's text is in
                    // certificate order with ", " (no escapes in these names).
                    let parts: Vec<&str> = c.subject.split(',').rev().collect();
                    subjects.insert(parts.join(", "));
                }
            }
            _ => {}
        }
    }
    assert!(names.len() >= 5 && !sni.is_empty() && !subjects.is_empty());
    let pick = |b: Buffer| -> BTreeSet<String> {
        r.seen.points.iter().filter_map(|p| p.text(b)).collect()
    };
    assert_eq!(pick(Buffer::DnsQuery), names);
    assert_eq!(pick(Buffer::TlsSni), sni);
    assert_eq!(pick(Buffer::Ja3Hash), ja3);
    assert_eq!(pick(Buffer::TlsCertSubject), subjects);
    for p in &r.seen.points {
        if p.get(Buffer::DnsQuery).is_some() {
            assert!(p.to_server && p.app == Some(AppProto::Dns));
            assert!(p.ip_protocol == 17 || p.ip_protocol == 6);
        }
        if p.get(Buffer::Ja3Hash).is_some() {
            assert!(p.to_server && p.app == Some(AppProto::Tls));
            let s = p.text(Buffer::Ja3String).unwrap();
            assert_eq!(s.split(',').count(), 5, "JA3 string: {s}");
        }
        if p.get(Buffer::TlsCertSubject).is_some() {
            assert!(!p.to_server && p.get(Buffer::TlsCertIssuer).is_some());
        }
    }
}

#[test]
fn stream_chunks_carry_a_bounded_tail_and_offsets() {
    let tail = 8;
    let limits = InspectLimits {
        stream_tail_bytes: tail,
        ..InspectLimits::default()
    };
    let r = run(limits, true, false);
    let flows = flows(&r.events);
    let mut checked = 0;
    let mut tls_cut = 0;
    for f in flows.iter().filter(|f| f.connection_info.protocol_num == 6) {
        let clean = f
            .reassembly
            .as_ref()
            .is_some_and(|x| x.gaps == 0 && x.retransmissions == 0);
        for (dir, payload) in [
            (Direction::ToResponder, f.traffic.payload_bytes_out),
            (Direction::ToOriginator, f.traffic.payload_bytes_in),
        ] {
            let points: Vec<&Point> = r
                .seen
                .points
                .iter()
                .filter(|p| {
                    p.uid == f.connection_info.uid
                        && p.dir == dir
                        && p.bufs.contains_key(&Buffer::Stream)
                })
                .collect();
            let mut end = 0u64;
            let mut prev: &[u8] = &[];
            for p in &points {
                let buf = p.get(Buffer::Stream).unwrap();
                assert_eq!(p.bufs.len(), 1);
                let repeated = (end - p.stream_offset) as usize;
                assert_eq!(repeated as u64, end.min(tail as u64), "tail is bounded");
                assert_eq!(&buf[..repeated], &prev[prev.len() - repeated..]);
                assert!(buf.len() > repeated, "each point brings new bytes");
                end = p.stream_offset + buf.len() as u64;
                prev = buf;
            }
            // TLS stream inspection stops after the handshake, SSH's after
            // NEWKEYS both ways (encrypted).
            if matches!(f.app_name.as_deref(), Some("tls" | "ssh")) {
                assert!(end <= payload);
                tls_cut += usize::from(clean && end < payload);
            } else if clean {
                assert_eq!(end, payload, "the stream is every payload byte once");
            }
            checked += usize::from(!points.is_empty());
        }
    }
    assert!(checked >= 10);
    assert!(tls_cut > 0, "encrypted TLS bytes are not inspected");
    // The first client chunk of each HTTP flow starts with the request line.
    let http_first = r
        .seen
        .points
        .iter()
        .filter(|p| p.app == Some(AppProto::Http) && p.stream_offset == 0 && p.to_server)
        .filter_map(|p| p.get(Buffer::Stream))
        .count();
    assert!(http_first >= 5);
}

#[test]
fn packet_points_and_flow_end_once_per_flow() {
    let r = default_run();
    let packets: Vec<&Point> = r
        .seen
        .points
        .iter()
        .filter(|p| p.bufs.contains_key(&Buffer::Packet))
        .collect();
    assert!(!packets.is_empty());
    assert!(packets.windows(2).all(|w| w[0].packet < w[1].packet));
    assert!(packets
        .iter()
        .all(|p| !p.get(Buffer::Packet).unwrap().is_empty()));
    // Scanners' SYNs are not "established"; a completed HTTP flow is.
    assert!(packets
        .iter()
        .any(|p| p.app == Some(AppProto::Http) && p.established));
    let flow_uids: Vec<String> = flows(&r.events)
        .iter()
        .map(|f| f.connection_info.uid.clone())
        .collect();
    let mut ended: Vec<String> = r.seen.ends.iter().map(|(u, _)| u.clone()).collect();
    assert_eq!(ended.len(), flow_uids.len(), "flow_end once per flow");
    ended.sort();
    let mut expect = flow_uids.clone();
    expect.sort();
    assert_eq!(ended, expect);
    // No point of a flow after its flow_end.
    for (uid, seen_before) in &r.seen.ends {
        assert!(r.seen.points[*seen_before..].iter().all(|p| &p.uid != uid));
    }
    let n = r.seen.points.len() as u64;
    assert_eq!(r.stats.get("sig", "recorded"), n);
    assert_eq!(
        r.stats.get("sig", "points.packet")
            + r.stats.get("sig", "points.stream")
            + r.stats.get("sig", "points.transaction"),
        n
    );
}

#[test]
fn findings_are_stamped_and_output_without_inspector_is_unchanged() {
    let lines = |events: &[Event]| -> Vec<String> {
        events.iter().map(|e| e.to_json_line().unwrap()).collect()
    };
    let plain = run(InspectLimits::default(), false, false);
    assert_eq!(
        lines(&plain.events),
        lines(&run(InspectLimits::default(), false, false).events)
    );
    assert_eq!(plain.stats.counters.get("sig"), None);
    // An inspector that finds nothing changes nothing in the output.
    let quiet = default_run();
    assert_eq!(lines(&plain.events), lines(&quiet.events));
    // Findings are stamped with the flow and the input, like records.
    let loud = run(InspectLimits::default(), true, true);
    let found: Vec<&Event> = loud
        .events
        .iter()
        .filter(|e| matches!(e.body, Body::Stats(_)))
        .collect();
    let queries = loud
        .seen
        .points
        .iter()
        .filter(|p| p.get(Buffer::DnsQuery).is_some())
        .count();
    assert_eq!(found.len(), queries);
    let dns_flows: BTreeSet<String> = loud
        .events
        .iter()
        .filter(|e| matches!(e.body, Body::Dns(_)))
        .map(uid)
        .collect();
    for e in found {
        assert!(dns_flows.contains(&uid(e)));
        assert_eq!(e.metadata.log_name.as_deref(), Some("sample.pcap"));
    }
}
