//! A lab: one network namespace, the processes started in it, a temp dir.
//!
//! Every test gets its own namespace (`vigil-e2e-<pid>-<n>-<nanos>`), so its
//! capture holds only its own traffic and tests can run in parallel with the
//! same ports. Only loopback exists in it. Everything is undone on drop, in
//! this order: the processes the lab started are stopped (TERM, then KILL)
//! and reaped, the namespace is deleted, the temp dir removed. Drop also runs
//! when a test panics.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// tcpdump's snap length: above the largest frame the namespace sends.
const SNAPLEN: &str = "4096";

/// The tools every lab needs (besides what each traffic kind needs).
pub const BASE_TOOLS: &[&str] = &["ip", "ss", "tcpdump", "tshark", "timeout"];

/// `Some(())` when root and every tool in `tools` (and [`BASE_TOOLS`]) is
/// installed; else a skip (or a panic under `VIGIL_TEST_STRICT=1`).
pub fn require(tools: &[&str]) -> Option<()> {
    vigil_testkit::require_root()?;
    for tool in BASE_TOOLS.iter().chain(tools) {
        vigil_testkit::require_tool(tool)?;
    }
    Some(())
}

/// A network namespace this process created; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Create a namespace with a unique name and bring its loopback up.
    ///
    /// The loopback MTU is set to 1500 and its GSO limit to 1500 bytes, so
    /// the capture holds Ethernet-sized segments (as on a real link) rather
    /// than 64 KiB super-packets: a large HTTP response spans hundreds of
    /// segments and reassembly is exercised.
    pub fn new() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "vigil-e2e-{}-{}-{nanos:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = Self { name };
        run_ok(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]));
        run_ok(Command::new("ip").args([
            "-n",
            &ns.name,
            "link",
            "set",
            "lo",
            "mtu",
            "1500",
            "gso_max_size",
            "1500",
        ]));
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `program` run inside the namespace (`ip netns exec NAME program`).
    /// `ip netns exec` execs the program, so the child's pid is the
    /// program's own.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A process this test started; stopped and reaped on drop.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Option<Child>,
    log: Option<PathBuf>,
}

impl Proc {
    /// Wrap a started child. `log` is where its output goes, shown on failure.
    pub fn new(name: &str, child: Child, log: Option<PathBuf>) -> Self {
        Self {
            name: name.to_owned(),
            child: Some(child),
            log,
        }
    }

    /// The pid of the child.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Panic with the log when the process has already exited.
    pub fn assert_running(&mut self) {
        let Some(child) = self.child.as_mut() else {
            panic!("{} is not running", self.name)
        };
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{} exited early with {status}; its output:\n{}",
                self.name,
                self.log_text()
            );
        }
    }

    /// The process's log so far.
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// Send `signal` (e.g. "INT", "TERM") to this process only, then wait up
    /// to `grace` for it to exit; KILL it if it has not.
    pub fn stop(&mut self, signal: &str, grace: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        // The shell's `kill` builtin: no procps needed, and it targets
        // exactly the pid we started.
        let _ = Command::new("sh")
            .args(["-c", "kill -s \"$1\" \"$2\"", "sh", signal])
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop("TERM", Duration::from_secs(3));
    }
}

/// A running packet capture (tcpdump on the namespace's loopback).
#[derive(Debug)]
pub struct Capture {
    proc: Proc,
    path: PathBuf,
    stderr: mpsc::Receiver<String>,
}

impl Capture {
    /// Stop the capture with SIGINT (tcpdump then flushes and closes the
    /// file) and return the file. Panics when the kernel dropped packets:
    /// the file would not hold all the traffic the clients made.
    pub fn stop(mut self) -> PathBuf {
        let status = self.proc.stop("INT", Duration::from_secs(10));
        let mut lines = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(2)) {
            lines.push(line);
        }
        let text = lines.join("\n");
        assert!(
            status.is_some_and(|s| s.success()),
            "tcpdump did not exit cleanly ({status:?}):\n{text}"
        );
        let dropped = lines
            .iter()
            .find_map(|l| l.strip_suffix(" packets dropped by kernel"))
            .and_then(|n| n.trim().parse::<u64>().ok());
        assert_eq!(
            dropped,
            Some(0),
            "the capture is incomplete (tcpdump's report):\n{text}"
        );
        let cut = Command::new("tshark")
            .arg("-r")
            .arg(&self.path)
            .args([
                "-Y",
                "frame.cap_len < frame.len",
                "-T",
                "fields",
                "-e",
                "frame.number",
            ])
            .output()
            .expect("run tshark");
        assert!(
            cut.status.success() && cut.stdout.is_empty(),
            "frames longer than the snap length {SNAPLEN}: {}",
            String::from_utf8_lossy(&cut.stdout)
        );
        self.path.clone()
    }
}

/// One test's lab: namespace, processes, temp dir.
#[derive(Debug)]
pub struct Lab {
    // Field order is drop order: processes first, then the namespace, then
    // the files.
    procs: Vec<Proc>,
    ns: Netns,
    dir: tempfile::TempDir,
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

impl Lab {
    /// A new namespace and temp dir.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("vigil-e2e-")
            .tempdir()
            .expect("create a temp dir");
        Self {
            procs: Vec::new(),
            ns: Netns::new(),
            dir,
        }
    }

    /// The lab's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The namespace.
    pub fn ns(&self) -> &Netns {
        &self.ns
    }

    /// Start a long-running program in the namespace; its output goes to
    /// `<dir>/<name>.log`. It is stopped when the lab is dropped.
    pub fn spawn(&mut self, name: &str, program: &str, args: &[&str]) -> &mut Proc {
        let log = self.dir().join(format!("{name}.log"));
        let out = File::create(&log).expect("create a log file");
        let err = out.try_clone().expect("clone a log file");
        let child = self
            .ns
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        self.procs.push(Proc::new(name, child, Some(log)));
        self.procs.last_mut().expect("just pushed")
    }

    /// Wait until something in the namespace listens on `port` (`tcp` or
    /// `udp`), asking the kernel (`ss`), so the wait makes no traffic.
    pub fn wait_listening(&mut self, proto: &str, port: u16) {
        let flag = if proto == "udp" { "-Hlun" } else { "-Hltn" };
        let filter = format!("sport = :{port}");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = self
                .ns
                .command("ss")
                .args([flag, &filter])
                .output()
                .expect("run ss");
            if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
                return;
            }
            for p in &mut self.procs {
                p.assert_running();
            }
            assert!(
                Instant::now() < deadline,
                "nothing listens on {proto} port {port} after 15 s"
            );
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// Run a client to completion in the namespace (at most `secs` seconds,
    /// via coreutils `timeout`) and return its output.
    pub fn run(&self, secs: u32, program: &str, args: &[&str]) -> Output {
        self.ns
            .command("timeout")
            .arg(secs.to_string())
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// Like [`Lab::run`], and panic unless it exits with status 0.
    pub fn run_ok(&self, secs: u32, program: &str, args: &[&str]) -> Output {
        let out = self.run(secs, program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} failed with {}:\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Start capturing on the namespace's loopback into `<dir>/<name>.pcap`
    /// and return once tcpdump says it is listening.
    ///
    /// `--immediate-mode` hands every packet to tcpdump at once (without it
    /// packets wait in the kernel's ring block and are lost at SIGINT), `-U`
    /// writes each packet as it comes, `-Z root` keeps tcpdump from switching
    /// to a user that cannot write into the temp dir. In immediate mode each
    /// ring slot is as large as the snap length, so the snap length is kept
    /// small (frames are at most 1514 bytes: see [`Netns::new`]; `stop`
    /// checks that none was cut) and the buffer (`-B`, KiB) large, so that a
    /// loopback burst fits.
    pub fn start_capture(&self, name: &str) -> Capture {
        let path = self.dir().join(format!("{name}.pcap"));
        let path_text = path.to_str().expect("utf-8 temp path").to_owned();
        let mut child = self
            .ns
            .command("tcpdump")
            .args([
                "-i",
                "lo",
                "-n",
                "--immediate-mode",
                "-U",
                "-B",
                "65536",
                "-s",
                SNAPLEN,
                "-Z",
                "root",
                "-w",
                &path_text,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tcpdump");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut proc = Proc::new("tcpdump", child, None);
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(15)) {
                Ok(line) if line.contains("listening on") => break,
                Ok(line) => seen.push(line),
                Err(_) => {
                    proc.stop("KILL", Duration::from_secs(1));
                    panic!("tcpdump did not start:\n{}", seen.join("\n"));
                }
            }
        }
        Capture {
            proc,
            path,
            stderr: rx,
        }
    }
}

/// Run a setup command on the host and panic when it fails.
fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run a setup command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Let the last packets (FIN/ACK exchanges after a client exits) reach the
/// capture before it is stopped.
pub fn settle() {
    thread::sleep(Duration::from_millis(300));
}
