//! The monitoring shipped in deploy/monitoring/, checked with the real
//! tools and the real binary:
//! - `promtool check rules` and `promtool test rules` on the alerts, with a
//!   firing and a quiet case for every alert;
//! - the PrometheusRule holds exactly the groups of alerts.yaml;
//! - `promtool check config` on the scrape configuration example;
//! - every query of the Grafana dashboard parses (`promtool check rules` on
//!   the queries as recording rules, Grafana variables filled in);
//! - every metric name in the alerts and the dashboard is one the binary
//!   exports (scraped from a running logscrub), the names the binary
//!   exports are exactly `telemetry::names::ALL`, and the README's metric
//!   table lists them all.
//!
//! promtool comes from Debian's `prometheus` package (.ci/run installs it).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use logscrub::telemetry::names;

const BIN: &str = env!("CARGO_BIN_EXE_logscrub");

fn monitoring() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/monitoring")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(monitoring().join(name)).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("logscrub-mon-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs promtool in `dir`; panics with its output unless it succeeds.
fn promtool(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool: {e} (install Debian's `prometheus` package, as .ci/run does)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// The alert names of a rules file.
fn alert_names(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .map(|n| n.trim().to_string())
        .collect()
}

/// The expressions of a rules file (`expr: x` or `expr: |` blocks).
fn rule_exprs(rules: &str) -> Vec<String> {
    let lines: Vec<&str> = rules.lines().collect();
    let mut exprs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        if rest.trim() != "|" {
            exprs.push(rest.trim().to_string());
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let block: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
            .copied()
            .collect();
        exprs.push(block.join("\n"));
    }
    exprs
}

/// Metric names in a PromQL expression: identifiers outside quotes that
/// name logscrub or process metrics.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_quote = false;
    let mut token = String::new();
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c == '"' {
            in_quote = !in_quote;
        }
        if !in_quote && (c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            token.push(c);
            continue;
        }
        if token.starts_with("logscrub_") || token.starts_with("process_") {
            out.insert(std::mem::take(&mut token));
        }
        token.clear();
    }
    out
}

#[test]
fn alerts_check_and_unit_tests_cover_every_alert() {
    let dir = monitoring();
    let check = promtool(&dir, &["check", "rules", "alerts.yaml"]);
    assert!(check.contains("SUCCESS"), "{check}");
    let test = promtool(&dir, &["test", "rules", "alerts.test.yaml"]);
    assert!(test.contains("SUCCESS"), "{test}");

    // Each alert has a case where it fires and one where it must not.
    let alerts = alert_names(&read("alerts.yaml"));
    assert!(alerts.len() >= 7, "{alerts:?}");
    let tests = read("alerts.test.yaml");
    let lines: Vec<&str> = tests.lines().collect();
    for alert in &alerts {
        let (mut fires, mut quiet) = (false, false);
        for (i, line) in lines.iter().enumerate() {
            if line.trim() == format!("alertname: {alert}") {
                if lines
                    .get(i + 1)
                    .is_some_and(|l| l.trim() == "exp_alerts: []")
                {
                    quiet = true;
                } else {
                    fires = true;
                }
            }
        }
        assert!(
            fires && quiet,
            "{alert}: fires tested {fires}, quiet tested {quiet}"
        );
    }
}

/// The PrometheusRule is alerts.yaml's groups under `spec:`; with
/// LOGSCRUB_BLESS=1 it is rewritten from alerts.yaml.
#[test]
fn prometheus_rule_matches_the_rules_file() {
    let alerts = read("alerts.yaml");
    let existing = read("prometheusrule.yaml");
    let header = &existing[..existing.find("spec:\n").expect("spec:") + "spec:\n".len()];
    let body = &alerts[alerts.find("groups:").unwrap()..];
    let expected: String = header.to_string()
        + &body
            .split_inclusive('\n')
            .map(|l| {
                if l.trim().is_empty() {
                    l.to_string()
                } else {
                    format!("  {l}")
                }
            })
            .collect::<String>();
    if std::env::var_os("LOGSCRUB_BLESS").is_some() {
        std::fs::write(monitoring().join("prometheusrule.yaml"), &expected).unwrap();
        return;
    }
    assert!(
        existing == expected,
        "deploy/monitoring/prometheusrule.yaml differs from alerts.yaml: run \
         LOGSCRUB_BLESS=1 cargo test --release --test monitoring"
    );
    assert!(header.contains("kind: PrometheusRule"));
}

/// The scrape configuration example, with Kubernetes discovery swapped for
/// a static target: Debian's promtool is built without Kubernetes service
/// discovery. It loads alerts.yaml, which promtool checks too.
#[test]
fn scrape_config_checks() {
    let dir = temp_dir("config");
    let config = read("prometheus.yml");
    let sd = "    kubernetes_sd_configs:\n      - role: pod\n";
    assert!(config.contains(sd));
    let config = config.replace(
        sd,
        "    static_configs:\n      - targets: [\"127.0.0.1:9090\"]\n",
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    std::fs::copy(monitoring().join("alerts.yaml"), dir.join("alerts.yaml")).unwrap();
    let out = promtool(&dir, &["check", "config", "prometheus.yml"]);
    assert!(out.contains("SUCCESS: 8 rules found"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every query of the dashboard: panel targets and variable queries.
fn dashboard_queries() -> Vec<(String, String)> {
    let dashboard: serde_json::Value = serde_json::from_str(&read("dashboard.json")).unwrap();
    let mut out = Vec::new();
    let mut stack: Vec<&serde_json::Value> =
        dashboard["panels"].as_array().unwrap().iter().collect();
    while let Some(panel) = stack.pop() {
        if let Some(inner) = panel["panels"].as_array() {
            stack.extend(inner);
        }
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a target without expr");
            out.push((
                panel["title"].as_str().unwrap().to_string(),
                expr.to_string(),
            ));
        }
    }
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["query"]["query"].as_str() {
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|q| q.rsplit_once(','))
                .map(|(selector, _)| selector.to_string())
                .unwrap_or_else(|| panic!("variable query {q}"));
            out.push((format!("variable {}", var["name"]), inner));
        }
    }
    out
}

#[test]
fn dashboard_queries_parse() {
    let queries = dashboard_queries();
    assert!(queries.len() >= 20, "{}", queries.len());
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (_, expr)) in queries.iter().enumerate() {
        // Grafana's variables, as Grafana fills them in.
        let expr = expr
            .replace("$__rate_interval", "2m")
            .replace("$__interval", "1m")
            .replace("$job", ".*")
            .replace("$namespace", ".*");
        assert!(!expr.contains('$'), "unknown variable in {expr}");
        rules.push_str(&format!(
            "      - record: dashboard_query_{i}\n        expr: {}\n",
            serde_json::to_string(&expr).unwrap()
        ));
    }
    let dir = temp_dir("dashboard");
    std::fs::write(dir.join("queries.yaml"), rules).unwrap();
    let out = promtool(&dir, &["check", "rules", "queries.yaml"]);
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Scrapes a logscrub that has redacted, rejected and scanned something.
fn scrape_exercised_binary() -> String {
    let dir = temp_dir("scrape");
    let log = dir.join("var/log/pods/shop_api-0_0a1b2c3d/app/0.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(
        &log,
        "paid 4111 1111 1111 1111\nnot a card 4111 1111 1111 1112\nmail bob@example.com\n",
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["--input", log.to_str().unwrap(), "--follow", "--output"])
        .arg(format!("file://{}", dir.join("out.log").display()))
        .args(["--metrics-addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("logscrub: metrics on http://")
        .and_then(|a| a.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        if response.contains("logscrub_candidates_rejected_total{")
            && response.contains("logscrub_redactions_total{")
            && response.contains("logscrub_scan_duration_seconds_bucket")
        {
            break response;
        }
        assert!(Instant::now() < deadline, "{response}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    metrics
}

#[test]
fn queried_metrics_are_the_exported_ones() {
    let metrics = scrape_exercised_binary();
    let exported: BTreeSet<String> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    let all: BTreeSet<String> = names::ALL.iter().map(|n| n.to_string()).collect();
    assert_eq!(exported, all, "the scrape vs telemetry::names::ALL");

    let histograms: Vec<&str> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter(|l| l.ends_with(" histogram"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let known = |name: &str| {
        exported.contains(name)
            || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|base| histograms.contains(&base))
            })
    };
    let mut queries: Vec<(String, String)> = dashboard_queries();
    for expr in rule_exprs(&read("alerts.yaml")) {
        queries.push(("alerts.yaml".into(), expr));
    }
    let mut used = BTreeSet::new();
    for (where_, expr) in &queries {
        for name in metric_names(expr) {
            assert!(known(&name), "{where_}: {name} is not exported by logscrub");
            used.insert(name);
        }
    }
    // The dashboard shows redactions by rule and workload, throughput,
    // lag, errors, reloads and the process.
    for name in [
        names::REDACTIONS,
        names::LINES,
        names::BYTES,
        names::OUTPUT_BUFFER_LINES,
        names::ERRORS,
        names::CONFIG_RELOADS,
        names::LINES_FAILED_CLOSED,
        names::LINES_DROPPED,
        names::PROCESS_CPU,
        names::PROCESS_RESIDENT_MEMORY,
    ] {
        assert!(used.contains(name), "nothing shows {name}");
    }
    assert!(
        metric_names(r#"sum(x{a="logscrub_no"}) + logscrub_yes_total"#)
            .into_iter()
            .eq(["logscrub_yes_total".to_string()])
    );
}

#[test]
fn readme_lists_every_metric() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for name in names::ALL {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README lacks `{name}`"
        );
    }
}
