//! Running on a Kubernetes node, with the real binary: redactions are
//! labelled with the namespace, pod and container named by the log path
//! (metrics and findings), and the series of a deleted pod go away; the
//! metrics endpoint serves probes while other clients hang, answers HEAD
//! and refuses other methods, and exports the alerting counters at 0 and
//! process metrics from the start.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_logscrub");
const CARD: &str = "4111 1111 1111 1111";
const CONTAINER_ID: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("logscrub-k8s-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running logscrub with its metrics address.
struct Running {
    child: Child,
    addr: String,
    /// Diagnostics after the address line (kept so stderr never blocks).
    _stderr: mpsc::Receiver<String>,
}

impl Running {
    /// Starts logscrub with `args` plus a metrics endpoint on a free port,
    /// and waits for the endpoint's address on stderr.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
        Running::start_with(&[args, &["--metrics-addr", "127.0.0.1:0"]].concat(), env)
    }

    /// Starts logscrub with exactly `args` (and JSON diagnostics): the
    /// metrics address must come from them, the environment or the config.
    fn start_with(args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .args(["--log-format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let (tx, rx) = mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut running = Running {
            child,
            addr: String::new(),
            _stderr: rx,
        };
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = running
                ._stderr
                .recv_timeout(left)
                .expect("no metrics address on stderr");
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            if let Some(addr) = event["message"]
                .as_str()
                .and_then(|m| m.strip_prefix("metrics on http://"))
                .and_then(|m| m.strip_suffix("/metrics"))
            {
                running.addr = addr.to_string();
                return running;
            }
        }
    }

    fn metrics(&self) -> String {
        request(&self.addr, "GET", "/metrics").2
    }

    /// Polls the metrics until `ok` holds, for up to 30 s.
    fn wait_metrics(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let m = self.metrics();
            if ok(&m) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{m}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status within 30 s.
    fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("logscrub did not stop");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    /// A failed test leaves no process behind.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP exchange: (status, head, body).
fn request(addr: &str, method: &str, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (status, head.to_string(), body.to_string())
}

fn write_file(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The sample of the series whose line starts with `name{` and contains
/// every one of `labels`.
fn series(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn redactions_name_the_workload_and_gone_pods_leave() {
    let root = temp_dir("workloads");
    let pods = root.join("var/log/pods");
    let pod_dir = pods.join("shop_api-7d4b9c-x2x9z_5f1c7c1e-2b1a-4c8e-9a51-0c9e8d7f6a5b");
    write_file(
        &pod_dir.join("app/0.log"),
        &format!("2024-05-01T10:00:00Z stdout F paid with {CARD}\n"),
    );
    let containers = root.join("var/log/containers");
    write_file(
        &containers.join(format!("web-1_front_nginx-{CONTAINER_ID}.log")),
        "2024-05-01T10:00:00Z stdout F mail alice@example.com\n2024-05-01T10:00:01Z stdout F mail bob@example.com\n",
    );
    let findings = root.join("findings.jsonl");
    let out = root.join("out.log");
    let pods_glob = format!("{}/*/*/*.log", pods.display());
    let containers_glob = format!("{}/*.log", containers.display());
    let mut running = Running::start(
        &[
            "--input",
            &pods_glob,
            "--input",
            &containers_glob,
            "--follow",
            "--format",
            "cri",
            "--findings",
            findings.to_str().unwrap(),
            "--output",
            &format!("file://{}", out.display()),
            "--workload-series-ttl",
            "0s",
        ],
        &[],
    );
    let pod = [
        "rule=\"pan\"",
        "namespace=\"shop\"",
        "pod=\"api-7d4b9c-x2x9z\"",
        "container=\"app\"",
    ];
    let web = [
        "rule=\"email\"",
        "namespace=\"front\"",
        "pod=\"web-1\"",
        "container=\"nginx\"",
    ];
    let m = running.wait_metrics("both workloads", |m| {
        series(m, "logscrub_redactions_total", &pod) == Some(1.0)
            && series(m, "logscrub_redactions_total", &web) == Some(2.0)
    });
    assert!(m.contains(&format!("source=\"{pods_glob}\"")), "{m}");
    assert_eq!(series(&m, "logscrub_workloads_tracked", &[]), Some(2.0));
    assert!(!m.contains("4111"), "a secret in the metrics:\n{m}");

    // The findings name the workload too (written before the metrics).
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&findings)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3, "{records:?}");
    let card = records.iter().find(|r| r["rule"] == "pan").unwrap();
    assert_eq!(
        (&card["namespace"], &card["pod"], &card["container"]),
        (&"shop".into(), &"api-7d4b9c-x2x9z".into(), &"app".into())
    );
    assert_eq!(card["pod_uid"], "5f1c7c1e-2b1a-4c8e-9a51-0c9e8d7f6a5b");
    let mail = records.iter().find(|r| r["rule"] == "email").unwrap();
    assert_eq!(mail["container_id"], CONTAINER_ID);
    assert_eq!(mail["namespace"], "front");

    // The pod is deleted: its series go (the TTL is 0), the other stays.
    std::fs::remove_dir_all(&pod_dir).unwrap();
    let m = running.wait_metrics("the deleted pod's series to go", |m| {
        series(m, "logscrub_redactions_total", &pod).is_none()
    });
    assert_eq!(series(&m, "logscrub_redactions_total", &web), Some(2.0));
    assert_eq!(series(&m, "logscrub_workloads_tracked", &[]), Some(1.0));
    assert!(running.stop().success());
    let scrubbed = std::fs::read_to_string(&out).unwrap();
    assert_eq!(scrubbed.lines().count(), 3);
    assert!(!scrubbed.contains("4111") && !scrubbed.contains("alice@"));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn endpoint_is_concurrent_with_deadlines_and_methods() {
    let mut running = Running::start(&["--listen", "tcp://127.0.0.1:0"], &[]);
    let addr = running.addr.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while request(&addr, "GET", "/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Idle clients (connected, silent; or a request never finished) do not
    // hold the probes.
    let mut idle: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let mut partial = TcpStream::connect(&addr).unwrap();
    partial.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    idle.push(partial);
    for path in ["/healthz", "/readyz", "/metrics"] {
        let started = Instant::now();
        let (status, _, _) = request(&addr, "GET", path);
        assert_eq!(status, 200, "{path}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{path} took {:?} with idle clients",
            started.elapsed()
        );
    }
    // And each idle client is disconnected by the request deadline.
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    // HEAD: the GET status and headers, no body.
    let (status, head, body) = request(&addr, "HEAD", "/healthz");
    assert_eq!((status, body.as_str()), (200, ""));
    assert!(head.contains("Content-Length: 3"), "{head}");
    let (status, head, body) = request(&addr, "HEAD", "/metrics");
    assert_eq!((status, body.as_str()), (200, ""));
    assert!(head.contains("text/plain"), "{head}");
    // Other methods: 405 with Allow.
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let (status, head, _) = request(&addr, method, "/metrics");
        assert_eq!(status, 405, "{method}");
        assert!(head.contains("Allow: GET, HEAD"), "{head}");
    }
    assert_eq!(request(&addr, "GET", "/nothing").0, 404);

    // The counters alerts watch exist at 0 before anything happened.
    let m = running.metrics();
    for (name, labels) in [
        (
            "logscrub_errors_total",
            vec!["stage=\"sending\"", "error_type=\"write_failed\""],
        ),
        (
            "logscrub_errors_total",
            vec!["stage=\"receiving\"", "error_type=\"read_failed\""],
        ),
        (
            "logscrub_errors_total",
            vec!["error_type=\"output_unavailable\""],
        ),
        (
            "logscrub_lines_dropped_total",
            vec!["reason=\"output_full\""],
        ),
        ("logscrub_lines_dropped_total", vec!["reason=\"policy\""]),
        (
            "logscrub_lines_failed_closed_total",
            vec!["reason=\"too_long\""],
        ),
        ("logscrub_lines_malformed_total", vec![]),
        ("logscrub_config_reloads_total", vec!["result=\"failure\""]),
    ] {
        assert_eq!(
            series(&m, name, &labels),
            Some(0.0),
            "{name} {labels:?}\n{m}"
        );
    }
    // Process metrics.
    assert!(series(&m, "process_cpu_seconds_total", &[]).is_some_and(|v| v >= 0.0));
    let rss = series(&m, "process_resident_memory_bytes", &[]).unwrap();
    assert!(rss > 1e6 && rss < 1e9, "{rss}");
    let fds = series(&m, "process_open_fds", &[]).unwrap();
    assert!(fds >= 3.0 && fds <= series(&m, "process_max_fds", &[]).unwrap());
    let start = series(&m, "process_start_time_seconds", &[]).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(start <= now + 1.0 && start > now - 600.0, "{start} {now}");
    // Every metric in the scrape has its HELP and TYPE exactly once.
    let mut types = std::collections::HashMap::new();
    for line in m.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).unwrap();
        assert!(types.insert(name, ()).is_none(), "{name} typed twice");
    }
    assert!(running.stop().success());
}

/// Sets a file's modification time `ago` in the past.
fn age_file(path: &Path, ago: Duration) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - ago)
        .unwrap();
}

#[test]
fn exclude_and_ignore_older_select_files() {
    let dir = temp_dir("select");
    let logs = dir.join("logs");
    write_file(&logs.join("app.log"), "app line 1\n");
    write_file(&logs.join("old.log"), "old line 1\n");
    write_file(&logs.join("logscrub-self.log"), "own output\n");
    age_file(&logs.join("old.log"), Duration::from_secs(2 * 86400));
    let out = dir.join("out.log");
    let pattern = format!("{}/*.log", logs.display());
    let exclude = format!("{}/logscrub-*", logs.display());
    let output = format!("file://{}", out.display());
    let args = [
        "--input",
        &pattern,
        "--exclude",
        &exclude,
        "--ignore-older",
        "1h",
        "--output",
        &output,
    ];
    let status = Command::new(BIN).args(args).status().unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "app line 1\n");

    // Following: the old file is picked up once written to again; the
    // excluded one never.
    std::fs::remove_file(&out).unwrap();
    let mut running = Running::start(&[&args[..], &["--follow"]].concat(), &[]);
    let wait_out = |expected: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = std::fs::read_to_string(&out).unwrap_or_default();
            if got.lines().count() >= expected.lines().count() {
                let mut got: Vec<&str> = got.lines().collect();
                got.sort_unstable();
                let mut want: Vec<&str> = expected.lines().collect();
                want.sort_unstable();
                assert_eq!(got, want);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {expected:?}, got {got:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_out("app line 1\n");
    let append = |name: &str, text: &str| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(logs.join(name))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    };
    append("logscrub-self.log", "own output 2\n");
    append("old.log", "old line 2\n");
    wait_out("app line 1\nold line 1\nold line 2\n");
    assert!(running.stop().success());
    assert!(!std::fs::read_to_string(&out)
        .unwrap()
        .contains("own output"));

    // A bad pattern is an error naming the flag.
    let bad = Command::new(BIN)
        .args(["--input", &pattern, "--exclude", "[", "--output", &output])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--exclude ["));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn environment_and_config_file_set_run_flags() {
    let dir = temp_dir("envconfig");
    write_file(&dir.join("logs/app.log"), &format!("paid {CARD}\n"));
    write_file(&dir.join("logs/skip.log"), "skipped\n");
    let out = |n: u32| dir.join(format!("out{n}.log"));
    let url = |n: u32| format!("file://{}", out(n).display());
    let config = dir.join("conf/logscrub.toml");
    write_file(
        &config,
        &format!(
            "[input]\npaths = [\"../logs/*.log\"]\nexclude = [\"../logs/skip.log\"]\n\n[output]\nurl = \"{}\"\nfindings = \"findings.jsonl\"\n",
            url(1)
        ),
    );
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(BIN);
        c.args(args).env_remove("LOGSCRUB_CONFIG");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    // The config file alone: inputs (relative to it), exclude, output and
    // findings.
    run(&["--config", config.to_str().unwrap()], &[]);
    assert_eq!(
        std::fs::read_to_string(out(1)).unwrap(),
        "paid [CARD_REDACTED]\n"
    );
    let findings = std::fs::read_to_string(dir.join("conf/findings.jsonl")).unwrap();
    assert!(findings.contains("\"rule\":\"pan\""), "{findings}");
    // The environment wins over the file (LOGSCRUB_CONFIG names it too).
    run(
        &[],
        &[
            ("LOGSCRUB_CONFIG", config.to_str().unwrap()),
            ("LOGSCRUB_OUTPUT", &url(2)),
            (
                "LOGSCRUB_EXCLUDE",
                &format!("{0}/logs/app.log,{0}/logs/none", dir.display()),
            ),
        ],
    );
    assert_eq!(std::fs::read_to_string(out(2)).unwrap(), "skipped\n");
    // And the command line wins over both.
    run(
        &["--config", config.to_str().unwrap(), "--output", &url(3)],
        &[("LOGSCRUB_OUTPUT", &url(2))],
    );
    assert_eq!(
        std::fs::read_to_string(out(3)).unwrap(),
        "paid [CARD_REDACTED]\n"
    );
    assert_eq!(std::fs::read_to_string(out(2)).unwrap(), "skipped\n");

    // Metrics and following from the environment and the file.
    let followed = dir.join("conf/followed.toml");
    write_file(
        &followed,
        &format!(
            "[input]\npaths = [\"../logs/app.log\"]\nfollow = true\n\n[output]\nurl = \"{}\"\n\n[metrics]\naddr = \"127.0.0.1:0\"\n",
            url(4)
        ),
    );
    let mut running = Running::start_with(&["--config", followed.to_str().unwrap()], &[]);
    running.wait_metrics("a redaction", |m| {
        series(m, "logscrub_redactions_total", &["rule=\"pan\""]) == Some(1.0)
    });
    assert!(running.stop().success());
    let input = format!("{}/logs/app.log", dir.display());
    let mut running = Running::start_with(
        &[],
        &[
            ("LOGSCRUB_INPUT", input.as_str()),
            ("LOGSCRUB_FOLLOW", "true"),
            ("LOGSCRUB_OUTPUT", &url(5)),
            ("LOGSCRUB_METRICS_ADDR", "127.0.0.1:0"),
        ],
    );
    running.wait_metrics("a redaction", |m| {
        series(m, "logscrub_redactions_total", &["rule=\"pan\""]) == Some(1.0)
    });
    assert!(running.stop().success());

    // Bad values name the file and key; --help shows the variables.
    write_file(&config, "[input]\nignore_older = \"soon\"\n");
    let o = Command::new(BIN)
        .args(["--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("logscrub.toml: input.ignore_older"), "{err}");
    let help = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    // Every long flag of a run, whatever it is, names its variable.
    let lines: Vec<&str> = help.lines().collect();
    let mut flags = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(flag) = line
            .strip_prefix("      --")
            .and_then(|f| f.split([' ', '<', '=']).next())
        else {
            continue;
        };
        flags += 1;
        let var = format!("[env: LOGSCRUB_{}=", flag.to_uppercase().replace('-', "_"));
        let block: String = lines[i + 1..]
            .iter()
            .take_while(|l| !l.starts_with("      --") && !l.starts_with("  -"))
            .copied()
            .collect();
        assert!(block.contains(&var), "--{flag}: no {var}] in --help");
    }
    assert!(flags >= 24, "{flags} flags in --help");
    let _ = std::fs::remove_dir_all(&dir);
}
