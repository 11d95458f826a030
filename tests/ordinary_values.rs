//! Values under secret-looking names that are not secrets, in every syntax
//! a log writes a name and its value: a status or an error where the value
//! would be (`token=expired`, `invalid refresh token: Forbidden`), a
//! reference to a secret (`secret="kube-system/bootstrap-token"`, a
//! Secrets Manager ARN, `$DB_PASSWORD`), a key file's path, prose after
//! `basic` and `bearer`, and card, CVV and SSN fields with too few digits.
//! Each class is crossed with the syntaxes and spellings below; every line
//! must come out unchanged. The secrets of the same shapes next to them
//! must still go (`secrets_beside_them_still_go`).

use std::sync::{Arc, OnceLock};

use logscrub::scan::Scanner;

fn scanner() -> &'static Arc<Scanner> {
    static S: OnceLock<Arc<Scanner>> = OnceLock::new();
    S.get_or_init(|| Arc::new(Scanner::builtin()))
}

fn scrub(line: &str) -> String {
    String::from_utf8(logscrub::redact::scrub_with(
        scanner(),
        format!("{line}\n").as_bytes(),
    ))
    .unwrap()
    .trim_end_matches('\n')
    .to_string()
}

/// `name` and `value` written in each syntax a log uses.
fn syntaxes(name: &str, value: &str) -> Vec<String> {
    vec![
        format!("{name}={value}"),
        format!("level=info {name}={value} msg=done"),
        format!("{name}: {value}"),
        format!(r#"{{"{name}": "{value}", "level": "info"}}"#),
        format!(r#"{{"log":"{{\"{name}\":\"{value}\"}}\n","stream":"stdout"}}"#),
        format!("{name} = '{value}'"),
        format!(r#"I1201 10:00:00.000000 1 sync.go:12] "Syncing" {name}="{value}""#),
        format!("2024-01-02T03:04:05Z stdout F {name}={value}"),
        format!("<{name}>{value}</{name}>"),
    ]
}

/// A secret's name in the spellings code writes it in.
fn spellings(words: &[&str]) -> Vec<String> {
    let cap = |w: &str| w[..1].to_uppercase() + &w[1..];
    vec![
        words.join("_"),
        words.join("-"),
        words[0].to_string() + &words[1..].iter().map(|w| cap(w)).collect::<String>(),
        words.iter().map(|w| cap(w)).collect::<Vec<_>>().join("-"),
        words.join("_").to_uppercase(),
    ]
}

/// Every line of `values` under every secret name, spelling and syntax.
fn under_secret_names<'a>(values: &'a [&'a str]) -> impl Iterator<Item = (&'a str, String)> + 'a {
    SECRET_NAMES.iter().flat_map(move |words| {
        spellings(words).into_iter().flat_map(move |name| {
            values
                .iter()
                .flat_map(move |&value| syntaxes(&name, value).into_iter().map(move |l| (value, l)))
        })
    })
}

const SECRET_NAMES: &[&[&str]] = &[
    &["token"],
    &["secret"],
    &["password"],
    &["access", "token"],
    &["client", "secret"],
];

#[test]
fn statuses_references_and_paths_under_secret_names_survive() {
    let values = [
        "expired",
        "Forbidden",
        "rotated",
        "invalid",
        "missing",
        "$DB_PASSWORD",
        "${API_TOKEN}",
        "kube-system/bootstrap-token-abcdef",
        "payments/db-creds",
        "/etc/pki/tls/private/web-01.pem",
        "./certs/client.key",
    ];
    let mut damaged = Vec::new();
    let mut n = 0;
    for (_, line) in under_secret_names(&values) {
        n += 1;
        let out = scrub(&line);
        if out != line {
            damaged.push(format!("{line}\n   => {out}"));
        }
    }
    assert!(
        damaged.is_empty(),
        "{} of {n} changed:\n{}",
        damaged.len(),
        damaged.join("\n")
    );
}

#[test]
fn secrets_beside_them_still_go() {
    let values = [
        "Zq8wLm2pTe9xK",
        "Forbidden1x",
        "iqLoNnRQZG{-n1w=U1ajc+9P=",
        "ns/Zq8wLm2pTe9",
    ];
    let mut leaked = Vec::new();
    let mut n = 0;
    for (value, line) in under_secret_names(&values) {
        n += 1;
        let out = scrub(&line);
        // The value's longest run without a brace, a slash or an escape
        // stands for it.
        let core = value.split(['{', '/']).max_by_key(|s| s.len()).unwrap();
        if out.contains(core) {
            leaked.push(format!("{line}\n   => {out}"));
        }
    }
    assert!(
        leaked.is_empty(),
        "{} of {n} leaked:\n{}",
        leaked.len(),
        leaked.join("\n")
    );
}

/// A service's `*_pass` or `*_pwd` key in the syntaxes a log writes it
/// in, each spelling: its value goes. (Known limit: as an XML element's
/// name, `<db_pass>…</db_pass>`, it is not read: these names are a rule's,
/// not the field recognizer's, whose name filter they slowed by 6 %.)
#[test]
fn service_passwords_go() {
    let mut leaked = Vec::new();
    for words in [
        &["db", "pass"][..],
        &["smtp", "pass"],
        &["mysql", "pwd"],
        &["redis", "pass"],
    ] {
        for name in spellings(words) {
            for line in syntaxes(&name, "HrI3d1OPRKvbYrbmY")
                .into_iter()
                .filter(|l| !l.starts_with('<'))
            {
                if scrub(&line).contains("HrI3d1OPRKvbYrbmY") {
                    leaked.push(line);
                }
            }
        }
    }
    assert!(leaked.is_empty(), "{}", leaked.join("\n"));
}

#[test]
fn error_chains_and_prose_survive() {
    for line in [
        "invalid refresh token: Forbidden",
        "open /var/run/secrets/kubernetes.io/serviceaccount/token: permission denied",
        "open /etc/app/secret: permission denied",
        "arn=arn:aws:secretsmanager:us-east-1:936643358638:secret:prod/db-wN985W",
        "basic scheduling enabled; using basic authentication scheme",
        "default bearer activated for UE 12",
        "ptz move pan=-19 tilt=56 card_number=5317",
        "ssn: 6789 cvv=N/A security_code=ABC",
        "location / { proxy_pass http://backend:8080; }",
        "cache bypass=cache first_pass: true sec_code=PPD",
        "sudo: admin : TTY=pts/0 ; PWD=/home/admin ; USER=root",
        "NextToken=AAMA-EFRSURBSGlBZWZ0bmZ4 nextPageToken: CiAKGjBpNDd2Nj",
        "X-Idempotency-Key: 9f8e7d6c5b4a39281706 X-Cache-Key: req-12031894-4757",
        "recipient=+4915122892875 sms queued",
        "unable to read password: timeout awaiting response headers",
        "invalid bootstrap token: crypto/rsa: verification error",
        "could not decode bootstrap token: illegal base64 data at input byte 4",
        "oauth: invalid password: invalid_grant auth_token=xxxxxxxx",
        "X-Amz-Meta-Key: Invoices/2021/INV-381470.pdf",
    ] {
        assert_eq!(scrub(line), line);
    }
}

/// Tokens with an `@` that are no e-mail addresses: systemd template
/// units × unit types, image files at a pixel density × formats, SSH
/// remotes' `git@` × hosts × forms, Kerberos service principals; in a
/// syslog line and a JSON journal line. A real address beside each still
/// goes.
#[test]
fn at_signs_that_are_no_addresses_survive() {
    let mut tokens = Vec::new();
    for unit in [
        "getty@tty1",
        "user@1000",
        "postgresql@14-main",
        "wg-quick@wg0",
        "openvpn-client@corp",
    ] {
        for kind in [
            "service", "socket", "timer", "mount", "target", "path", "slice",
        ] {
            tokens.push(format!("{unit}.{kind}"));
        }
    }
    for name in ["logo", "icon-home", "hero_banner"] {
        for density in ["2x", "3x"] {
            for ext in ["png", "jpg", "svg", "webp"] {
                tokens.push(format!("/static/img/{name}@{density}.{ext}"));
            }
        }
    }
    for host in ["github.com", "gitlab.example.com", "bitbucket.org"] {
        tokens.push(format!("git@{host}:infra/charts.git"));
        tokens.push(format!("ssh://git@{host}/infra/charts.git"));
    }
    for principal in [
        "nfs/fs01.lab.local@LAB.LOCAL",
        "HTTP/web.corp.example.com@CORP.EXAMPLE.COM",
    ] {
        tokens.push(principal.to_string());
    }
    let mut bad = Vec::new();
    for token in &tokens {
        for line in [
            format!("Dec  1 10:00:00 host systemd[1]: Started {token}."),
            format!(r#"{{"MESSAGE": "using {token}", "PRIORITY": "6"}}"#),
        ] {
            let out = scrub(&line);
            if out != line {
                bad.push(format!("{line}\n   => {out}"));
            }
            let with_address = format!("{line} notify=ops.team@example.com");
            if scrub(&with_address).contains("ops.team@example.com") {
                bad.push(format!("address kept: {with_address}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {}:\n{}",
        bad.len(),
        2 * tokens.len(),
        bad.join("\n")
    );
}

/// A bare `cid` is a connection, client or content id, and a 12-digit
/// account on a line about AWS is an AWS account id: in every syntax they
/// survive; a card's CID and a bank account beside no AWS context still go.
#[test]
fn connection_ids_and_aws_accounts_survive() {
    let mut bad = Vec::new();
    for cid in ["1042", "5503", "771"] {
        for line in syntaxes("cid", cid).into_iter().chain([format!(
            "[INF] 10.0.0.1:4222 - cid:{cid} - Client connection created"
        )]) {
            if scrub(&line) != line {
                bad.push(line);
            }
        }
        for line in [format!("card cid: {cid}"), format!("amex_cid={cid}")] {
            if scrub(&line).contains(cid) {
                bad.push(format!("kept: {line}"));
            }
        }
    }
    for account in ["359573714053", "123456789012"] {
        for line in [
            format!(
                r#"{{"version": "0", "source": "aws.ec2", "account": "{account}", "region": "us-east-1"}}"#
            ),
            format!(
                r#"{{"UserId": "AIDAEXAMPLE", "Account": "{account}", "Arn": "arn:aws:iam::{account}:user/ci"}}"#
            ),
            format!("assumed role in AWS account={account} region=eu-west-1"),
        ] {
            if scrub(&line) != line {
                bad.push(line);
            }
        }
        let bank = format!("wire to bank account: {account} ok");
        if scrub(&bank).contains(account) {
            bad.push(format!("kept: {bank}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
