//! A generated detection corpus: secrets under sensitive names in every
//! field syntax, card numbers with every separator and encoding, and
//! look-alike decoys that must survive, run through the real binary in one
//! process.
//!
//! The corpus is generated, not hand-picked: a deterministic generator
//! (seeded, so a failure reproduces) walks syntax × key spelling × value
//! shape for the fields (issue #16 section 1), and network layout ×
//! separator × encoding for the cards (section 2), placing decoys
//! (`cvc_check: pass`, `token_type`, masked cards, Luhn-failing ids, order
//! ids, timestamps, UUIDs, hashes, IPs, versions) beside the secrets and on
//! lines of their own.
//!
//! Gate (as the eval gate): **zero card leaks, ≥ 99.5 % of secrets removed,
//! ≤ 0.1 % of keep tokens damaged**; and scrubbing the output again changes
//! nothing.
//!
//! A secret leaks when it survives in the output line or in one of its
//! decoded views (percent, form `+`, JSON `\uXXXX`, HTML references, each
//! applied up to twice): digit secrets when their digits occur in one digit
//! group of a view (digits apart by at most 3 characters that are not
//! letters or digits), a CVV when its digits survive as a whole digit run,
//! other secrets when their text survives. A keep token is damaged when it
//! no longer occurs verbatim in its output line.

use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_logscrub");

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn luhn_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let mut v = u32::from(b - b'0');
            if i % 2 == 1 {
                v *= 2;
                if v > 9 {
                    v -= 9;
                }
            }
            v
        })
        .sum();
    sum % 10 == 0
}

/// A Luhn-valid card number with a real network prefix and length.
fn card(rng: &mut Rng, prefix: &str, len: usize) -> String {
    let mut d = prefix.to_string();
    d.push_str(&rng.digits(len - prefix.len() - 1));
    for check in 0..10 {
        let c = format!("{d}{check}");
        if luhn_ok(&c) {
            return c;
        }
    }
    unreachable!()
}

/// Card layouts the networks print: (prefix, length, group sizes).
const NETWORKS: &[(&str, usize, &[usize])] = &[
    ("4", 16, &[4, 4, 4, 4]),
    ("51", 16, &[4, 4, 4, 4]),
    ("2221", 16, &[4, 4, 4, 4]),
    ("6011", 16, &[4, 4, 4, 4]),
    ("37", 15, &[4, 6, 5]),
    ("36", 14, &[4, 6, 4]),
    ("4", 19, &[4, 4, 4, 4, 3]),
    ("62", 19, &[4, 4, 4, 4, 3]),
    ("3530", 16, &[4, 4, 4, 4]),
];

fn grouped(digits: &str, groups: &[usize], sep: &str) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&digits[at..at + g]);
        at += g;
    }
    out
}

/// Separators between card digit groups (section 2), as characters.
const SEPARATORS: &[&str] = &[
    " ", "-", "\u{a0}", "\u{202f}", "\u{2009}", "\u{2007}", "\u{2002}", "\u{2003}", "\u{2013}",
    "\u{2011}", "\u{2010}", "\u{200b}", "\t", ".", "  ", " - ", "\u{3000}", "\u{2212}",
];

/// The encodings a card can be printed in: the line template and how the
/// card (already grouped with its separator) is written.
#[derive(Clone, Copy, Debug)]
enum CardEncoding {
    Plain,
    JsonEscape,
    HtmlNamed,
    HtmlDecimal,
    HtmlHex,
    Percent,
    Form,
}

const CARD_ENCODINGS: &[CardEncoding] = &[
    CardEncoding::Plain,
    CardEncoding::JsonEscape,
    CardEncoding::HtmlNamed,
    CardEncoding::HtmlDecimal,
    CardEncoding::HtmlHex,
    CardEncoding::Percent,
    CardEncoding::Form,
];

fn html_name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{a0}' => "&nbsp;",
        '\u{2009}' => "&thinsp;",
        '\u{2002}' => "&ensp;",
        '\u{2003}' => "&emsp;",
        '\u{2007}' => "&numsp;",
        '\u{2013}' => "&ndash;",
        '\u{200b}' => "&ZeroWidthSpace;",
        '\u{2212}' => "&minus;",
        _ => return None,
    })
}

/// Writes `text` in `enc`; None when the encoding does not apply (a form
/// body only turns spaces into `+`).
fn encode(text: &str, enc: CardEncoding) -> Option<String> {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            out.push(c);
            continue;
        }
        match enc {
            CardEncoding::Plain => out.push(c),
            CardEncoding::JsonEscape => {
                if (c as u32) < 0x7f && c != '\t' {
                    out.push(c)
                } else {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                }
            }
            CardEncoding::HtmlNamed => match html_name(c) {
                Some(n) => out.push_str(n),
                None if c.is_ascii() && c != '\t' => out.push(c),
                None => return None,
            },
            CardEncoding::HtmlDecimal => out.push_str(&format!("&#{};", c as u32)),
            CardEncoding::HtmlHex => out.push_str(&format!("&#x{:X};", c as u32)),
            CardEncoding::Percent => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            CardEncoding::Form => {
                if c == ' ' {
                    out.push('+')
                } else {
                    return None;
                }
            }
        }
    }
    Some(out)
}

/// One generated line with what must go and what must stay.
struct Case {
    line: String,
    /// (kind, value): kinds `pan`, `cvv`, `digits` (ssn, account,
    /// routing), `text` (passwords, keys, cookies).
    secrets: Vec<(&'static str, String)>,
    keep: Vec<String>,
}

/// Decoys: look-alikes that must survive.
fn decoys(rng: &mut Rng) -> Vec<(String, String)> {
    let bad_luhn = loop {
        let d = format!("4{}", rng.digits(15));
        if !luhn_ok(&d) {
            break d;
        }
    };
    let uuid = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        rng.next() as u32,
        rng.next() as u16,
        rng.next() as u16 & 0xfff,
        rng.next() as u16 & 0xfff,
        rng.next() & 0xffff_ffff_ffff
    );
    let hash: String = (0..4).map(|_| format!("{:016x}", rng.next())).collect();
    let ts = format!(
        "2024-0{}-1{}T{:02}:{:02}:{:02}.{:03}Z",
        1 + rng.below(9),
        rng.below(10),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1000)
    );
    let order = format!("ORD-{}", rng.digits(10));
    let epoch = format!("17{}", rng.digits(11));
    let ip = format!(
        "{}.{}.{}.{}",
        10 + rng.below(200),
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    );
    let version = format!("v{}.{}.{}", rng.below(10), rng.below(100), rng.digits(4));
    vec![
        ("order_id".into(), bad_luhn),
        ("request_id".into(), uuid),
        ("sha256".into(), hash),
        ("ts".into(), ts),
        ("order_ref".into(), order),
        ("created_ms".into(), epoch),
        ("client_ip".into(), ip),
        ("build".into(), version),
        ("masked_card".into(), "411111******1111".into()),
        ("last4".into(), "************4242".into()),
        ("cvc_check".into(), "pass".into()),
        ("token_type".into(), "Bearer".into()),
        // Names of numeric rules holding words or small counts.
        ("routing".into(), "eu-west-1".into()),
        ("acct".into(), "acme-prod".into()),
        ("aba".into(), "2".into()),
        // Too few digits for the rule: a last four, an angle, a word.
        ("card_number".into(), "5317".into()),
        ("pan".into(), "-19".into()),
        ("ssn".into(), "6789".into()),
        ("cvv".into(), "N/A".into()),
    ]
}

/// The kinds of named secrets, with key spellings (as words) and values.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Pan,
    Cvv,
    Ssn,
    Account,
    Routing,
    Password,
}

const KINDS: &[Kind] = &[
    Kind::Pan,
    Kind::Cvv,
    Kind::Ssn,
    Kind::Account,
    Kind::Routing,
    Kind::Password,
];

fn key_words(kind: Kind) -> &'static [&'static [&'static str]] {
    match kind {
        Kind::Pan => &[
            &["card", "number"],
            &["credit", "card", "number"],
            &["pan"],
            &["cc", "number"],
            &["card", "no"],
        ],
        Kind::Cvv => &[
            &["cvv"],
            &["cvv2"],
            &["cvc"],
            &["security", "code"],
            &["card", "verification", "value"],
            &["card", "cvv"],
            &["card", "code"],
            &["verification", "value"],
            &["cvd"],
        ],
        Kind::Ssn => &[
            &["ssn"],
            &["social", "security", "number"],
            &["customer", "ssn"],
            &["ssn", "number"],
            &["ssn", "full"],
        ],
        Kind::Account => &[
            &["account", "number"],
            &["bank", "account"],
            &["acct", "no"],
            &["acct"],
            &["bank", "account", "number"],
        ],
        Kind::Routing => &[
            &["routing", "number"],
            &["aba", "number"],
            &["routing", "no"],
            &["routing"],
            &["aba"],
            &["rtn"],
            &["routing", "transit", "number"],
        ],
        Kind::Password => &[
            &["password"],
            &["db", "password"],
            &["client", "secret"],
            &["api", "key"],
            &["secret", "key", "base"],
            &["password", "confirmation"],
            &["ocp", "apim", "subscription", "key"],
            &["basic", "auth"],
        ],
    }
}

fn cap(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// Key spellings: snake, camel, Pascal, kebab, UPPER, dotted, Title Case.
fn spell(words: &[&str], style: usize) -> String {
    match style {
        0 => words.join("_"),
        1 => {
            let mut s = words[0].to_string();
            for w in &words[1..] {
                s.push_str(&cap(w));
            }
            s
        }
        2 => words.iter().map(|w| cap(w)).collect(),
        3 => words.join("-"),
        4 => words.join("_").to_ascii_uppercase(),
        5 => words.join("."),
        _ => words.iter().map(|w| cap(w)).collect::<Vec<_>>().join(" "),
    }
}

fn aba(rng: &mut Rng) -> String {
    loop {
        let d = rng.digits(9);
        let v: Vec<u32> = d.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum = 3 * (v[0] + v[3] + v[6]) + 7 * (v[1] + v[4] + v[7]) + (v[2] + v[5] + v[8]);
        if sum != 0 && sum % 10 == 0 {
            return d;
        }
    }
}

/// A value of `kind`, and its kind for the leak check.
fn value(rng: &mut Rng, kind: Kind, shape: usize) -> (&'static str, String) {
    match kind {
        Kind::Pan => {
            let &(prefix, len, groups) = rng.pick(NETWORKS);
            let c = card(rng, prefix, len);
            let sep = [" ", "-", ""][shape % 3];
            ("pan", grouped(&c, groups, sep))
        }
        Kind::Cvv => ("cvv", rng.digits(3 + shape % 2).replacen('0', "7", 1)),
        Kind::Ssn => {
            let s = format!(
                "{}{}{}",
                100 + rng.below(500),
                10 + rng.below(89),
                1000 + rng.below(8999)
            );
            let v = if shape % 2 == 0 {
                format!("{}-{}-{}", &s[..3], &s[3..5], &s[5..])
            } else {
                s
            };
            ("digits", v)
        }
        Kind::Account => (
            "digits",
            format!("{}{}", 1 + rng.below(9), rng.digits(7 + shape % 9)),
        ),
        Kind::Routing => ("digits", aba(rng)),
        Kind::Password => {
            const ALPHABET: &[u8] =
                b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!_-.";
            let n = 12 + rng.below(10);
            let mut s: String = (0..n)
                .map(|_| char::from(ALPHABET[rng.below(ALPHABET.len())]))
                .collect();
            s.insert(0, 'Q');
            s.push('7');
            ("text", s)
        }
    }
}

/// Field syntaxes (section 1): a template with `{k}` the name and `{v}`
/// the value, `{o}` an order id decoy, `{t}` a timestamp decoy; and
/// whether the name may hold spaces.
const SYNTAXES: &[(&str, &str, bool)] = &[
    ("json", r#"{"ts":"{t}","{k}":"{v}","order_id":"{o}"}"#, true),
    ("logfmt", "ts={t} level=info {k}={v} order_id={o}", false),
    ("logfmt_quoted", r#"ts={t} {k}="{v}" order_id={o}"#, false),
    (
        "xml_element",
        "<Payment><{k}>{v}</{k}><OrderId>{o}</OrderId></Payment>",
        false,
    ),
    (
        "soap",
        r#"<soapenv:Body><ns2:{k} xsi:type="xs:string">{v}</ns2:{k}><ns2:ts>{t}</ns2:ts></soapenv:Body>"#,
        false,
    ),
    (
        "xml_attribute",
        r#"<payment {k}="{v}" order_id="{o}"/>"#,
        false,
    ),
    ("yaml", "  {k}: {v}", true),
    ("yaml_quoted", "  {k}: \"{v}\"  # at {t}", true),
    ("ini", "{k} = {v}", true),
    ("properties", "payment.{k}={v}", false),
    ("http_header", "{k}: {v}", false),
    ("query", "GET /pay?{k}={v}&order_id={o} HTTP/1.1", false),
    ("form", "body: {k}={v}&order_id={o}&ts={t}", false),
    ("go", "payment: &{Order:{o} {k}:{v} At:{t}}", false),
    ("python_dict", "{'order_id': '{o}', '{k}': '{v}'}", true),
    ("python_obj", "Payment(order_id='{o}', {k}='{v}')", false),
    ("java", "Payment{orderId={o}, {k}='{v}', ts={t}}", false),
    ("kotlin", "Payment(orderId={o}, {k}={v})", false),
    ("ruby_hash", r#"{:order_id=>"{o}", :{k}=>"{v}"}"#, false),
    ("ruby_new_hash", r#"{order_id: "{o}", {k}: "{v}"}"#, false),
    (
        "ruby_inspect",
        r##"#<Payment order_id="{o}" {k}="{v}">"##,
        false,
    ),
    ("php_print_r", "    [{k}] => {v}", true),
    (
        "php_array",
        "array ( 'order_id' => '{o}', '{k}' => '{v}', )",
        true,
    ),
    ("php_var_dump", r#"  ["{k}"]=> string(16) "{v}""#, true),
    ("dotnet", "Payment { OrderId = {o}, {k} = {v} }", false),
    ("js", "{ orderId: '{o}', {k}: '{v}' }", false),
    (
        "sql_set",
        "UPDATE payments SET {k} = '{v}' WHERE order_id = '{o}'",
        false,
    ),
    (
        "sql_where",
        "SELECT * FROM payments WHERE {k} = '{v}' AND ts > '{t}'",
        false,
    ),
    (
        "sql_insert",
        "INSERT INTO payments (order_id, {k}, ts) VALUES ('{o}', '{v}', '{t}')",
        false,
    ),
    (
        "binds",
        r#"binds=[["order_id", "{o}"], ["{k}", "{v}"]]"#,
        true,
    ),
    (
        "pg_key_detail",
        "DETAIL:  Key (order_id, {k})=({o}, {v}) already exists.",
        false,
    ),
    (
        "sqlalchemy_positional",
        "[SQL: INSERT INTO payments (order_id, {k}, ts) VALUES (?, ?, ?)] [parameters: ('{o}', '{v}', '{t}')]",
        false,
    ),
    (
        "cef",
        "CEF:0|Acme|Pay|1.0|100|charge|5|cs1Label={k} cs1={v} suser=bob",
        true,
    ),
    ("markdown", "| {k} | {v} |", true),
    ("html_cells", "<tr><td>{k}</td><td>{v}</td></tr>", true),
    ("prose", "customer wrote: the {k} is {v} thanks", true),
    ("prose_colon", "ticket 42: my {k}: {v}", true),
    ("paren_name", "card on file ({k}): {v} order {o}", true),
    (
        "name_value_json",
        r#"{"fields":[{"name":"order_id","value":"{o}"},{"name":"{k}","value":"{v}"}]}"#,
        true,
    ),
    (
        "name_value_xml",
        r#"<field name="order_id">{o}</field><field name="{k}">{v}</field>"#,
        true,
    ),
    (
        "cfn_parameters",
        "aws cloudformation create-stack --parameters ParameterKey=OrderId,ParameterValue={o} ParameterKey={k},ParameterValue={v}",
        false,
    ),
    (
        "form_input",
        r#"<input type="text" name="{k}" value="{v}"><input name="order" value="{o}">"#,
        false,
    ),
    (
        "prose_form",
        "GET /help?q=my+{k}+is+{v}&order_id={o} HTTP/1.1",
        true,
    ),
];

/// Password-storage schemes written before a password or its hash.
const PASSWORD_SCHEMES: &[&str] = &[
    "{SSHA}",
    "{SHA}",
    "{MD5}",
    "{CRYPT}",
    "{SSHA512}",
    "{PBKDF2}",
    "{noop}",
    "{bcrypt}",
    "{cipher}",
    "{sha256}",
    "{ARGON2}",
];

/// What stands between a name and its value in free text (after the
/// syntaxes above): each connector with the closing text after the value.
/// Every kind takes the assignment arrows and brackets.
const CONNECTORS: &[(&str, &str)] = &[
    ("=", ""),
    (": ", ""),
    (" = ", ""),
    ("=>", ""),
    (" => ", ""),
    ("->", ""),
    (" -> ", ""),
    (":=", ""),
    (" := ", ""),
    ("==", ""),
    ("=[", "]"),
    (": [", "]"),
    ("=(", ")"),
];

/// Connectors of numbers only (card, code, SSN, bank numbers): a number
/// sign or an abbreviation dot, a dash between spaces, `was`, a scope
/// `::`, a number in parentheses, braces or angle brackets. (A word after
/// `::` is a type's path, `Password::Reset`; one in braces a template's
/// placeholder, `password={token}`.)
const NUMBER_CONNECTORS: &[(&str, &str)] = &[
    ("::", ""),
    (" (", ")"),
    ("={", "}"),
    ("#", ""),
    ("# ", ""),
    (" #", ""),
    (" # ", ""),
    ("#: ", ""),
    (" #: ", ""),
    ("#=", ""),
    ("# :", ""),
    (": #", ""),
    ("=#", ""),
    (".: ", ""),
    (" - ", ""),
    (" \u{2013} ", ""),
    (" was ", ""),
    (": <", ">"),
    ("=<", ">"),
];

/// Syntaxes where a name and its value stand on different lines: a
/// table's header row and its cells, a dump's key and the value on the
/// next line. `{k}` the name, `{v}` the value, `{o}` an order id that is a
/// Luhn-valid number with a card network's prefix (it must survive under
/// an id name), `{t}` a Luhn-valid epoch in milliseconds; each ends with a
/// newline, so a blank line follows it; and whether the name may hold
/// spaces.
const MULTILINE: &[(&str, &str, bool)] = &[
    (
        "markdown_table",
        "| customer | {k} | order_id | created_ms |\n|---|:---|---|---:|\n| bob | {v} | {o} | {t} |\n",
        true,
    ),
    (
        "ascii_table",
        "+----------+------+----------+------------+\n| customer | {k} | order_id | created_ms |\n+==========+======+==========+============+\n| bob      | {v} | {o} | {t} |\n+----------+------+----------+------------+\n",
        true,
    ),
    (
        "psql",
        " customer | {k} | order_id | created_ms\n----------+------+----------+------------\n bob      | {v} | {o} | {t}\n(1 row)\n",
        true,
    ),
    ("csv", "customer,{k},order_id,created_ms\nbob,{v},{o},{t}\n", true),
    (
        "csv_quoted",
        "\"customer\",\"{k}\",\"order_id\",\"created_ms\"\n\"bob\",\"{v}\",\"{o}\",\"{t}\"\n",
        true,
    ),
    ("csv_semicolon", "customer;{k};order_id;created_ms\nbob;{v};{o};{t}\n", true),
    ("tsv", "customer\t{k}\torder_id\tcreated_ms\nbob\t{v}\t{o}\t{t}\n", true),
    (
        "php_var_dump",
        "array(3) {\n  [\"order_id\"]=>\n  string(16) \"{o}\"\n  [\"{k}\"]=>\n  string(19) \"{v}\"\n  [\"created_ms\"]=>\n  int({t})\n}\n",
        true,
    ),
    (
        "ruby_pp",
        "{:order_id=>\"{o}\",\n :{k}=>\n  \"{v}\",\n :created_ms=>{t}}\n",
        false,
    ),
    (
        "python_pprint",
        "{'created_ms': {t},\n 'order_id': '{o}',\n '{k}':\n     '{v}'}\n",
        true,
    ),
    (
        "yaml_nested",
        "payment:\n  order_id: \"{o}\"\n  {k}:\n    {v}\n  created_ms: {t}\n",
        true,
    ),
    ("yaml_block", "{k}: |\n  {v}\norder_id: \"{o}\"\n", true),
];

/// Tables and dumps of decoys only: id and time columns holding Luhn-valid
/// numbers with a card network's prefix, hashes, UUIDs; all must survive.
const MULTILINE_DECOYS: &[&str] = &[
    "| order_id | created_ms | request_id |\n|---|---|---|\n| {o} | {t} | {u} |\n",
    "order_id,created_ms,sha256\n{o},{t},{h}\n",
    " id | txn_id | ts\n----+--------+----\n 7 | {o} | {t}\n",
    "array(2) {\n  [\"order_id\"]=>\n  string(16) \"{o}\"\n  [\"request_id\"]=>\n  string(36) \"{u}\"\n}\n",
    "{'order_id':\n    '{o}',\n 'cvc_check': 'pass'}\n",
];

/// A Luhn-valid number of `len` digits starting with `prefix`.
fn luhn_number(rng: &mut Rng, prefix: &str, len: usize) -> String {
    card(rng, prefix, len)
}

fn fill(template: &str, k: &str, v: &str, o: &str, t: &str) -> String {
    template
        .replace("{k}", k)
        .replace("{v}", v)
        .replace("{o}", o)
        .replace("{t}", t)
}

fn generate() -> Vec<Case> {
    let mut rng = Rng(0x5eed_0016);
    let mut cases = Vec::new();
    // Section 1: syntax × kind × key spelling × value shape.
    for &(name, template, spaces) in SYNTAXES {
        for &kind in KINDS {
            for (wi, words) in key_words(kind).iter().enumerate() {
                for shape in 0..2 {
                    let mut style = (wi + shape * 3 + name.len()) % 7;
                    if style == 6 && !spaces {
                        style = wi % 6;
                    }
                    if name.starts_with("prose") {
                        style = 6;
                        if kind == Kind::Password {
                            continue;
                        }
                    }
                    let mut k = spell(words, style);
                    let (vk, mut v) = value(&mut rng, kind, shape);
                    if name == "prose_form" {
                        // A form body's spaces are `+`.
                        k = k.replace(' ', "+");
                        v = v.replace(' ', "+");
                    }
                    if matches!(name, "json" | "query" | "form" | "go" | "cfn_parameters") {
                        // Separators that the syntax would end the value at.
                        v = v.replace(' ', "-");
                    }
                    if name == "query" || name == "form" {
                        v = v.replace('!', "_");
                    }
                    if matches!(
                        name,
                        "go" | "kotlin" | "dotnet" | "php_print_r" | "logfmt" | "properties"
                    ) && vk == "pan"
                    {
                        v = v.replace(' ', "");
                    }
                    let decoys = decoys(&mut rng);
                    let o = decoys[0].1.clone();
                    let t = decoys[3].1.clone();
                    let line = fill(template, &k, &v, &o, &t);
                    let mut keep = Vec::new();
                    if template.contains("{o}") {
                        keep.push(o);
                    }
                    if template.contains("{t}") {
                        keep.push(t);
                    }
                    cases.push(Case {
                        line,
                        secrets: vec![(vk, v)],
                        keep,
                    });
                }
            }
        }
    }
    // Free text: kind × key spelling × connector between name and value.
    for &kind in KINDS {
        let connectors = CONNECTORS.iter().chain(if kind == Kind::Password {
            &[][..]
        } else {
            NUMBER_CONNECTORS
        });
        for (ci, &(conn, close)) in connectors.enumerate() {
            for (wi, words) in key_words(kind).iter().enumerate() {
                let k = spell(words, (wi + ci) % 7);
                let decoys = decoys(&mut rng);
                let (o, t) = (decoys[0].1.clone(), decoys[3].1.clone());
                // A short code must not recur in the decoys (`16.522Z`
                // would hold a leaked `522`).
                let (vk, v) = loop {
                    let (vk, v) = value(&mut rng, kind, wi + ci);
                    if !t.contains(&v) && !o.contains(&v) {
                        break (vk, v);
                    }
                };
                cases.push(Case {
                    line: format!("{t} order={o} {k}{conn}{v}{close} status=ok"),
                    secrets: vec![(vk, v)],
                    keep: vec![o, t],
                });
            }
        }
    }
    // A password-storage scheme before the password (`{SSHA}…`, `{noop}…`,
    // `{cipher}…`), as LDAP entries and Spring configurations write them:
    // scheme × connector × key spelling.
    for (si, scheme) in PASSWORD_SCHEMES.iter().enumerate() {
        for (ci, conn) in [": ", " = ", "=", ":", " => ", ":: "].iter().enumerate() {
            for (wi, words) in key_words(Kind::Password).iter().enumerate() {
                let k = spell(words, (wi + ci + si) % 7);
                let (vk, v) = value(&mut rng, Kind::Password, si + ci);
                let decoys = decoys(&mut rng);
                let (o, t) = (decoys[0].1.clone(), decoys[3].1.clone());
                cases.push(Case {
                    line: format!("{t} uid={o} {k}{conn}{scheme}{v} status=ok"),
                    secrets: vec![(vk, v)],
                    keep: vec![o, t],
                });
            }
        }
    }
    // Passwords on command lines and in Redis' command log: the client ×
    // the flags around the password × the password.
    for (ti, tool) in [
        "mysql",
        "mysqldump",
        "mysqladmin",
        "mariadb",
        "mariadb-dump",
    ]
    .iter()
    .enumerate()
    {
        for (fi, flags) in [
            "-u root",
            "-h db.internal -P 3306 -uapp",
            "--single-transaction -uadmin",
        ]
        .iter()
        .enumerate()
        {
            let (vk, v) = value(&mut rng, Kind::Password, ti + fi);
            let (o, t) = (rng.digits(6), decoys(&mut rng)[3].1.clone());
            cases.push(Case {
                line: format!("{t} cron[{o}]: {tool} {flags} -p{v} appdb > /backup/app.sql"),
                secrets: vec![(vk, v)],
                keep: vec![o, t],
            });
        }
    }
    for (ci, command) in ["AUTH", "auth", "Auth"].iter().enumerate() {
        for user in ["", " \"default\"", " \"app-ro\""] {
            let (vk, v) = value(&mut rng, Kind::Password, ci);
            let (o, t) = (rng.digits(5), rng.digits(10));
            cases.push(Case {
                line: format!("{t}.402117 [0 10.0.3.7:{o}] \"{command}\"{user} \"{v}\""),
                secrets: vec![(vk, v)],
                keep: vec![o, t],
            });
        }
    }
    for flag in ["-a", "--pass"] {
        let (vk, v) = value(&mut rng, Kind::Password, flag.len());
        let o = rng.digits(4);
        cases.push(Case {
            line: format!("healthcheck: redis-cli -h cache -p {o} {flag} {v} ping"),
            secrets: vec![(vk, v)],
            keep: vec![o],
        });
    }
    // Magnetic-stripe track data from card readers: network × track ×
    // framing.
    for (pi, (prefix, len)) in [
        ("4", 16),
        ("51", 16),
        ("37", 15),
        ("6011", 16),
        ("3528", 16),
        ("5018", 13),
    ]
    .iter()
    .enumerate()
    {
        let pan = luhn_number(&mut rng, prefix, *len);
        let exp = format!("{}{:02}", 25 + pi, 1 + rng.below(12));
        for template in [
            "pos: swipe track1=%B{p}^DOE/JOHN^{e}1010000000000000? ok",
            "pos: swipe track2=;{p}={e}1010000000000? ok",
            r#"{"reader": "mx915", "track2": ";{p}={e}101000000?"}"#,
        ] {
            cases.push(Case {
                line: template.replace("{p}", &pan).replace("{e}", &exp),
                secrets: vec![("pan", pan.clone())],
                keep: vec![],
            });
        }
    }
    // Passwords in shell traces: the command × how the password is given.
    for (ci, template) in [
        "+ docker login -u ci -p {v} registry.example.com",
        "+ podman login quay.io -u bot -p '{v}'",
        "+ helm registry login ghcr.io -u bot -p {v}",
        "+ sshpass -p {v} ssh deploy@10.0.0.5 uptime",
        "+ sshpass -p'{v}' scp app.tar host:/tmp",
        "+ curl -sS -u deploy:{v} https://api.example.com/v1/x",
        "+ curl --user 'deploy:{v}' https://api.example.com/v1/x",
        "+ htpasswd -bc /etc/nginx/.htpasswd admin {v}",
        "+ vault login --token {v} -address https://vault:8200",
        "+ app --db-password {v} --port {o}",
        "+ aws configure --profile ci --aws-secret-access-key {v}",
        "+ cli --session-token \"{v}\" --region eu-west-1",
        "argv: [\"app\", \"--client-secret\", \"{v}\", \"--port\", \"{o}\"]",
    ]
    .iter()
    .enumerate()
    {
        for shape in 0..3 {
            let (vk, v) = value(&mut rng, Kind::Password, ci + shape);
            let o = rng.digits(4);
            cases.push(Case {
                line: template.replace("{v}", &v).replace("{o}", &o),
                secrets: vec![(vk, v)],
                keep: if template.contains("{o}") {
                    vec![o]
                } else {
                    vec![]
                },
            });
        }
    }
    // Names apart from their values: table × kind × key spelling × value
    // shape, with id and time columns holding Luhn-valid numbers.
    for &(name, template, spaces) in MULTILINE {
        for &kind in KINDS {
            for (wi, words) in key_words(kind).iter().enumerate() {
                for shape in 0..3 {
                    let mut style = (wi + shape * 3 + name.len()) % 7;
                    if style == 6 && !spaces {
                        style = wi % 6;
                    }
                    let k = spell(words, style);
                    let (vk, v) = value(&mut rng, kind, shape);
                    let o = luhn_number(&mut rng, "4", 16);
                    let t = luhn_number(&mut rng, "17", 13);
                    let text = fill(template, &k, &v, &o, &t);
                    let keep = [o, t]
                        .into_iter()
                        .filter(|d| template.contains(if d.len() == 16 { "{o}" } else { "{t}" }))
                        .collect();
                    cases.push(Case {
                        line: text.trim_end_matches('\n').to_string() + "\n",
                        secrets: vec![(vk, v)],
                        keep,
                    });
                }
            }
        }
    }
    // The same, each line wrapped in a Docker json-file record (the table
    // or dump is in the `log` strings; quoted CSV and TSV, whose quotes and
    // tabs the JSON escapes, are left to the one-line recognizer).
    for &(name, template, spaces) in MULTILINE {
        if matches!(name, "csv_quoted" | "tsv") {
            continue;
        }
        for &kind in KINDS {
            for (wi, words) in key_words(kind).iter().enumerate() {
                let mut style = (wi + name.len()) % 7;
                if style == 6 && !spaces {
                    style = wi % 6;
                }
                let k = spell(words, style);
                let (vk, v) = value(&mut rng, kind, wi);
                let o = luhn_number(&mut rng, "4", 16);
                let t = luhn_number(&mut rng, "17", 13);
                let text = fill(template, &k, &v, &o, &t);
                let wrapped: Vec<String> = text
                    .trim_end_matches('\n')
                    .split('\n')
                    .map(|l| {
                        let esc = l.replace('\\', "\\\\").replace('"', "\\\"");
                        format!(r#"{{"log":"{esc}\n","stream":"stdout","time":"2024-05-01T00:00:00.000000000Z"}}"#)
                    })
                    .collect();
                let keep = [o, t]
                    .into_iter()
                    .filter(|d| template.contains(if d.len() == 16 { "{o}" } else { "{t}" }))
                    .collect();
                cases.push(Case {
                    line: wrapped.join("\n") + "\n",
                    secrets: vec![(vk, v)],
                    keep,
                });
            }
        }
    }
    for i in 0..200 {
        let d = decoys(&mut rng);
        let o = luhn_number(
            &mut rng,
            ["4", "51", "6011", "37"][i % 4],
            16 - usize::from(i % 4 == 3),
        );
        let t = luhn_number(&mut rng, "17", 13);
        let text = MULTILINE_DECOYS[i % MULTILINE_DECOYS.len()]
            .replace("{o}", &o)
            .replace("{t}", &t)
            .replace("{u}", &d[1].1)
            .replace("{h}", &d[2].1);
        let mut keep = vec![o];
        for k in [&t, &d[1].1, &d[2].1] {
            if text.contains(k.as_str()) {
                keep.push(k.clone());
            }
        }
        cases.push(Case {
            line: text.trim_end_matches('\n').to_string() + "\n",
            secrets: vec![],
            keep,
        });
    }
    // Cookies: the session values are credentials.
    for i in 0..20 {
        let (_, tok) = value(&mut rng, Kind::Password, i);
        let tok = tok.replace(['!', '.'], "x");
        let line = match i % 3 {
            0 => format!("Cookie: theme=dark; session_id={tok}"),
            1 => format!("Set-Cookie: sid={tok}; Path=/; HttpOnly"),
            _ => format!("cookie: _app_session={tok}"),
        };
        cases.push(Case {
            line,
            secrets: vec![("text", tok)],
            keep: vec![],
        });
    }
    // Section 2: network layout × separator × encoding.
    for &(prefix, len, groups) in NETWORKS {
        for sep in SEPARATORS {
            for &enc in CARD_ENCODINGS {
                let c = card(&mut rng, prefix, len);
                let printed = grouped(&c, groups, sep);
                let Some(encoded) = encode(&printed, enc) else {
                    continue;
                };
                let d = decoys(&mut rng);
                let line = match enc {
                    CardEncoding::Plain => {
                        format!("{} charge card {encoded} ok ip={}", d[3].1, d[6].1)
                    }
                    CardEncoding::JsonEscape => {
                        format!(
                            r#"{{"ts":"{}","msg":"card {encoded} declined","id":"{}"}}"#,
                            d[3].1, d[1].1
                        )
                    }
                    CardEncoding::HtmlNamed | CardEncoding::HtmlDecimal | CardEncoding::HtmlHex => {
                        format!("<td class=\"pan\">{encoded}</td><td>{}</td>", d[2].1)
                    }
                    CardEncoding::Percent => {
                        format!("GET /p?c={encoded}&order_id={} HTTP/1.1", d[0].1)
                    }
                    CardEncoding::Form => format!("POST body: c={encoded}&ts={}", d[3].1),
                };
                let keep = match enc {
                    CardEncoding::Plain => vec![d[3].1.clone(), d[6].1.clone()],
                    CardEncoding::JsonEscape => vec![d[3].1.clone(), d[1].1.clone()],
                    CardEncoding::Percent => vec![d[0].1.clone()],
                    CardEncoding::Form => vec![d[3].1.clone()],
                    _ => vec![d[2].1.clone()],
                };
                cases.push(Case {
                    line,
                    secrets: vec![("pan", c)],
                    keep,
                });
            }
        }
    }
    // Decoy-only lines, in a few syntaxes each.
    for i in 0..400 {
        let d = decoys(&mut rng);
        let (k, v) = &d[i % d.len()];
        let (k2, v2) = &d[(i * 7 + 3) % d.len()];
        let line = match i % 6 {
            0 => format!("{k}={v} {k2}={v2}"),
            1 => format!(r#"{{"{k}":"{v}","{k2}":"{v2}"}}"#),
            2 => format!("<{k}>{v}</{k}> <{k2}>{v2}</{k2}>"),
            3 => format!("{k}: {v}"),
            4 => format!("Payment({k}={v}, {k2}='{v2}')"),
            _ => format!("INSERT INTO t ({k}, {k2}) VALUES ('{v}', '{v2}')"),
        };
        let mut keep = vec![v.clone(), v2.clone()];
        keep.retain(|k| line.contains(k.as_str()));
        keep.dedup();
        cases.push(Case {
            line,
            secrets: vec![],
            keep,
        });
    }
    cases
}

/// Decodes percent, form `+`, JSON `\uXXXX` and simple escapes, and HTML
/// references (numeric and the names the generator uses).
fn decode_views(line: &str) -> Vec<String> {
    fn percent(s: &str, form: bool) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 3 <= b.len() {
                let hex = |c: u8| (c as char).to_digit(16);
                if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(if form && b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    fn json(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\\' {
                if s[i + 1..].starts_with('u') {
                    if let Some(Ok(v)) = s.get(i + 2..i + 6).map(|h| u32::from_str_radix(h, 16)) {
                        if let Some(ch) = char::from_u32(v) {
                            out.push(ch);
                            for _ in 0..5 {
                                chars.next();
                            }
                            continue;
                        }
                    }
                }
                if let Some(&(_, n)) = chars.peek() {
                    let r = match n {
                        'n' => Some('\n'),
                        't' => Some('\t'),
                        '"' | '\\' | '/' => Some(n),
                        _ => None,
                    };
                    if let Some(r) = r {
                        out.push(r);
                        chars.next();
                        continue;
                    }
                }
            }
            out.push(c);
        }
        out
    }
    fn html(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(p) = rest.find('&') {
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            let semi = rest[..rest.len().min(24)].find(';');
            let decoded = semi.and_then(|q| {
                let body = &rest[1..q];
                let ch = if let Some(h) = body.strip_prefix("#x").or(body.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok().and_then(char::from_u32)
                } else if let Some(d) = body.strip_prefix('#') {
                    d.parse().ok().and_then(char::from_u32)
                } else {
                    [
                        ("nbsp", '\u{a0}'),
                        ("thinsp", '\u{2009}'),
                        ("ensp", '\u{2002}'),
                        ("emsp", '\u{2003}'),
                        ("numsp", '\u{2007}'),
                        ("ndash", '\u{2013}'),
                        ("ZeroWidthSpace", '\u{200b}'),
                        ("minus", '\u{2212}'),
                        ("amp", '&'),
                        ("lt", '<'),
                        ("gt", '>'),
                        ("quot", '"'),
                    ]
                    .iter()
                    .find(|(n, _)| *n == body)
                    .map(|(_, c)| *c)
                };
                ch.map(|c| (c, q + 1))
            });
            match decoded {
                Some((c, len)) => {
                    out.push(c);
                    rest = &rest[len..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
    let mut views = vec![line.to_string()];
    for _ in 0..2 {
        let mut next = Vec::new();
        for v in &views {
            for d in [percent(v, false), percent(v, true), json(v), html(v)] {
                if !views.contains(&d) && !next.contains(&d) {
                    next.push(d);
                }
            }
        }
        views.extend(next);
    }
    views
}

/// The digit strings of a view's digit groups: digits apart by at most 3
/// characters that are neither letters nor digits.
fn digit_groups(view: &str) -> Vec<String> {
    let mut groups = Vec::new();
    let mut cur = String::new();
    let mut gap = 0;
    for c in view.chars() {
        if c.is_ascii_digit() {
            cur.push(c);
            gap = 0;
        } else if c.is_alphanumeric() {
            if !cur.is_empty() {
                groups.push(std::mem::take(&mut cur));
            }
            gap = 0;
        } else {
            gap += 1;
            if gap > 3 && !cur.is_empty() {
                groups.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        groups.push(cur);
    }
    groups
}

fn digit_runs(view: &str) -> Vec<&str> {
    view.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .collect()
}

fn leaked(kind: &str, secret: &str, out: &str) -> bool {
    let views = decode_views(out);
    let digits: String = secret.chars().filter(char::is_ascii_digit).collect();
    views.iter().any(|v| match kind {
        "pan" | "digits" => digit_groups(v).iter().any(|g| g.contains(&digits)),
        "cvv" => digit_runs(v).contains(&digits.as_str()),
        _ => v.contains(secret),
    })
}

fn run(input: &[u8], args: &[&str]) -> Vec<u8> {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run logscrub");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer").expect("write");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn generated_corpus_meets_the_gate() {
    let cases = generate();
    assert!(cases.len() > 3500, "{}", cases.len());
    let input: String = cases.iter().map(|c| format!("{}\n", c.line)).collect();
    let output = run(input.as_bytes(), &[]);
    let output = String::from_utf8(output).expect("utf-8 out");
    // A case of several lines (a table, a dump) takes as many output lines.
    let mut out_lines = output.split('\n');
    let outs: Vec<String> = cases
        .iter()
        .map(|c| {
            let n = c.line.split('\n').count();
            (0..n)
                .map(|_| out_lines.next().expect("an output line per input line"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    assert_eq!(out_lines.collect::<Vec<_>>(), vec![""]);
    let (mut secrets, mut leaks, mut card_leaks, mut keeps, mut damaged) = (0, 0, 0, 0, 0);
    let mut report = String::new();
    for (case, out) in cases.iter().zip(&outs) {
        for (kind, secret) in &case.secrets {
            secrets += 1;
            if leaked(kind, secret, out) {
                leaks += 1;
                if *kind == "pan" {
                    card_leaks += 1;
                }
                if report.len() < 6000 {
                    report.push_str(&format!(
                        "LEAK {kind} {secret:?}\n  in:  {:?}\n  out: {out:?}\n",
                        case.line
                    ));
                }
            }
        }
        for k in &case.keep {
            keeps += 1;
            if !out.contains(k.as_str()) {
                damaged += 1;
                if report.len() < 6000 {
                    report.push_str(&format!(
                        "DAMAGED {k:?}\n  in:  {:?}\n  out: {out:?}\n",
                        case.line
                    ));
                }
            }
        }
    }
    if std::env::var_os("DETECTION_REPORT").is_some() {
        eprintln!("{report}");
    }
    let recall = 1.0 - leaks as f64 / secrets as f64;
    let fp_rate = damaged as f64 / keeps as f64;
    eprintln!(
        "detection corpus: {} lines, {secrets} secrets, {leaks} leaked ({card_leaks} cards), recall {recall:.4}; {keeps} keep tokens, {damaged} damaged ({fp_rate:.4})",
        cases.len()
    );
    // Every class the corpus generates is handled: one leak or one damaged
    // token is a regression (the corpus is seeded, so the figures do not
    // move between runs).
    assert!(
        leaks == 0 && damaged == 0,
        "gate failed: {leaks} leaks ({card_leaks} cards), recall {recall:.4}, fp {fp_rate:.4}\n{report}"
    );
    // Idempotence: the output scrubbed again is unchanged.
    let again = run(output.as_bytes(), &[]);
    assert!(
        again == output.as_bytes(),
        "scrubbing the output again changed it"
    );
}

/// Masking keeps the encoding: every action × every view. A card found in
/// a decoded view is replaced in that view's encoding, so the line keeps
/// its framing (no space in a URL, valid JSON), and nothing leaks.
#[test]
fn every_action_in_every_view() {
    let key = std::env::temp_dir().join(format!("detection-corpus-key-{}", std::process::id()));
    std::fs::write(&key, "0123456789abcdef0123456789abcdef").expect("key");
    let key_arg = key.to_str().expect("path");
    let card = "4111 1111 1111 1111";
    let lines = [
        (
            "percent",
            "GET /p?card=4111%201111%201111%201111&x=1 HTTP/1.1",
        ),
        (
            "percent-nbsp",
            "GET /p?card=4111%C2%A01111%C2%A01111%C2%A01111&x=1 HTTP/1.1",
        ),
        ("form", "body card=4111+1111+1111+1111&x=1"),
        (
            "json",
            r#"{"msg":"card 4111\u00a01111\u00a01111\u00a01111 ok"}"#,
        ),
        ("html", "<td>4111&nbsp;1111&nbsp;1111&nbsp;1111</td>"),
        (
            "html-numeric",
            "<td>4111&#8201;1111&#8201;1111&#8201;1111</td>",
        ),
        ("raw", "card 4111 1111 1111 1111 ok"),
    ];
    for action in ["label", "mask", "hash", "drop"] {
        let input: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
        let act = format!("pan={action}");
        let out = run(
            input.as_bytes(),
            &["--action", &act, "--hash-key-file", key_arg],
        );
        let out = String::from_utf8(out).expect("utf-8");
        if action == "drop" {
            assert_eq!(out, "", "drop keeps no line");
            continue;
        }
        let outs: Vec<&str> = out.lines().collect();
        assert_eq!(outs.len(), lines.len());
        for ((view, line), got) in lines.iter().zip(&outs) {
            assert!(!leaked("pan", card, got), "{action} {view}: {got}");
            match *view {
                "percent" | "percent-nbsp" | "form" => {
                    assert!(
                        !got.contains(' ') || got.matches(' ').count() == line.matches(' ').count(),
                        "{action} {view}: a space in the URL: {got}"
                    );
                    assert!(got.contains("&x=1"), "{action} {view}: {got}");
                }
                "json" => {
                    let v: serde_json::Value = serde_json::from_str(got).expect("valid JSON");
                    assert!(v["msg"].as_str().is_some_and(|m| m.starts_with("card ")));
                    assert!(
                        got.is_ascii(),
                        "{action} {view}: escaped stays escaped: {got}"
                    );
                }
                "html" | "html-numeric" => {
                    assert!(got.starts_with("<td>") && got.ends_with("</td>"), "{got}");
                    assert!(got.is_ascii(), "{action} {view}: {got}");
                }
                _ => {}
            }
            if action == "mask" {
                // The mask keeps the first 6 and last 4 digits, in the
                // view's encoding.
                let decoded = decode_views(got);
                assert!(
                    decoded
                        .iter()
                        .any(|d| d.contains("11**") && d.contains("1111")),
                    "{action} {view}: {got}"
                );
            }
        }
    }
    let _ = std::fs::remove_file(&key);
}

/// Pieces of a stream for the split test: tables and dumps whose names and
/// values stand on different lines, and lines that end them.
const PIECES: &[&str] = &[
    "| name | card_number | cvv |\n|---|---|---|\n",
    "| bob | 4111 1111 1111 1111 | 123 |\n",
    "+------+-----+\n| user | ssn |\n+------+-----+\n",
    "| amy | 078-05-1120 |\n",
    "name,card number,order_id\n",
    "bob,5500000000000004,4111111111111111\n",
    "  [\"cvv\"]=>\n",
    "  string(3) \"842\"\n",
    "{'password':\n",
    "    'Q7x!pa55word-long'}\n",
    "2024-01-01T00:00:00.000000000Z stdout F | x | cvv |\n",
    "2024-01-01T00:00:00.000000000Z stdout F | y | 917 |\n",
    "\n",
    "plain log line 42 ok\n",
    "-----BEGIN RSA PRIVATE KEY-----\n",
    "MIIEowIBAAKCAQEAIYn6oCbvo4UK1j\n",
    "-----END RSA PRIVATE KEY-----\n",
    "x,y\n",
    "this line is much longer than the small line limit of the test run\n",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// A stream cut into batches at any line boundaries, each batch
    /// scrubbed by its own redactor from the state the stream's cursor
    /// hands it (as the pipe's workers and the service's tasks do), gives
    /// the same output as the stream scrubbed in one piece: fields named
    /// on an earlier line (table headers, dump keys) reach their values
    /// across batch boundaries, and an over-long line ends them the same
    /// way in both.
    #[test]
    fn carried_fields_cross_batch_boundaries(
        pieces in proptest::collection::vec(0..PIECES.len(), 1..120),
        cuts in proptest::collection::vec(0usize..400, 0..12),
        max_line in proptest::sample::select(vec![48usize, 1 << 20]),
    ) {
        use logscrub::redact::{Redactor, ScrubOptions, StreamCursor};
        use logscrub::scan::Scanner;
        use std::sync::Arc;
        let scanner = Arc::new(Scanner::builtin());
        let options = ScrubOptions { max_line_bytes: max_line, ..ScrubOptions::default() };
        let text: String = pieces.iter().map(|&i| PIECES[i]).collect();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut whole = Vec::new();
        Redactor::with_options(Arc::clone(&scanner), options).scrub_lines(text.as_bytes(), &mut whole);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (lines.len() + 1)).collect();
        cuts.push(lines.len());
        cuts.sort_unstable();
        let mut cursor = StreamCursor::default();
        let mut out = Vec::new();
        let mut at = 0;
        for cut in cuts {
            if cut <= at {
                continue;
            }
            let batch = lines[at..cut].concat();
            let start = cursor.advance(Some(batch.as_bytes()), &scanner, false, max_line);
            let mut redactor = Redactor::with_options(Arc::clone(&scanner), options);
            redactor.set_block_state(start.block_lines_left);
            redactor.set_carry(start.carry);
            redactor.scrub_lines(batch.as_bytes(), &mut out);
            at = cut;
        }
        proptest::prop_assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&whole));
        // And, with every value under its name, the secrets are gone.
        let named: String = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].iter().map(|&i| PIECES[i]).collect();
        let mut out = Vec::new();
        Redactor::new(Arc::clone(&scanner)).scrub_lines(named.as_bytes(), &mut out);
        let out = String::from_utf8_lossy(&out);
        for secret in ["4111 1111 1111 1111", "078-05-1120", "5500000000000004", "842", "Q7x!pa55word-long", "917"] {
            proptest::prop_assert!(!out.contains(secret), "{secret} in {out}");
        }
        proptest::prop_assert!(out.contains(",4111111111111111"), "an order id is kept: {out}");
    }
}

/// The real binary, a table whose rows run past its first read batch
/// (256 KiB) and across worker threads: every row is redacted, the
/// order ids survive.
#[test]
fn a_table_across_read_batches() {
    let mut input = String::new();
    let mut n = 0;
    while input.len() < 250 * 1024 {
        input.push_str(&format!(
            "2024-05-01 12:00:{:02} INFO worker heartbeat seq={n}\n",
            n % 60
        ));
        n += 1;
    }
    input.push_str("| customer | card_number | cvv | order_id |\n|---|---|---|---|\n");
    for i in 0..150 {
        input.push_str(&format!(
            "| row{i} | 4111 1111 1111 1111 | {} | 4012888888881881 |\n",
            100 + i
        ));
    }
    input.push('\n');
    for threads in ["1", "2"] {
        let out = String::from_utf8(run(input.as_bytes(), &["--threads", threads])).expect("utf-8");
        assert_eq!(out.lines().count(), input.lines().count());
        assert!(!out.contains("4111 1111"), "a card under the header leaked");
        let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| row")).collect();
        assert_eq!(rows.len(), 150);
        for row in rows {
            assert!(
                row.contains("[CVV_REDACTED]") && row.contains("4012888888881881"),
                "{row}"
            );
        }
    }
}
