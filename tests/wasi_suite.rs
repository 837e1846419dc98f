//! The official WASI test suite (`wasm32-wasip1` prebuilt tests), run through `ward run`.
//!
//! For each test module `NAME.wasm` with its optional spec `NAME.json` (see
//! `doc/specification.md` in the suite: `args`, `env`, `root`, `exit_code`, `stdout`,
//! `stderr`), the runner copies the module and its `root` directory to a fresh temporary
//! directory (the suite itself may be read-only), runs
//! `ward run --tier TIER [--env K=V]... [--dir ROOT::/] NAME.wasm [ARGS]...` with stdin empty,
//! and compares the exit status and, when the spec gives them, stdout and stderr. Every test
//! must pass under both tiers (`interp` and `native`); the native run also reports how many
//! modules the native tier compiled and why the others fell back to the interpreter.
//!
//! The suite is looked for in `../shared/wasi-testsuite` next to the workspace, or where
//! `WARD_WASI_TESTSUITE` points. If it is missing, the test says so loudly; it then fails when
//! `CI` is set and is skipped otherwise, so that a fresh clone still passes `cargo test`.

mod support;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{copy_tree, run, TEST_TIMEOUT};

/// Writes to the real stderr, past the test harness's capture, so the notice is always seen.
fn loud(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

fn suite_dir() -> PathBuf {
    match std::env::var_os("WARD_WASI_TESTSUITE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/wasi-testsuite"),
    }
}

/// Every `tests/*/testsuite/wasm32-wasip1/*.wasm`, sorted.
fn test_modules(suite: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(langs) = std::fs::read_dir(suite.join("tests")) else {
        return out;
    };
    for lang in langs.flatten() {
        let dir = lang.path().join("testsuite/wasm32-wasip1");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "wasm") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A test's expectations and setup, with the specification's defaults.
#[derive(Debug, Default)]
struct Spec {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    root: Option<String>,
    exit_code: i64,
    stdout: Option<String>,
    stderr: Option<String>,
}

fn read_spec(wasm: &Path) -> Result<Spec, String> {
    let path = wasm.with_extension("json");
    let mut spec = Spec::default();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(spec);
    };
    let json = json::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let obj = json.as_object().ok_or_else(|| format!("{}: not an object", path.display()))?;
    for (key, value) in obj {
        let bad = || format!("{}: bad value for `{key}`", path.display());
        match key.as_str() {
            "args" => {
                let items = value.as_array().ok_or_else(bad)?;
                for a in items {
                    spec.args.push(a.as_str().ok_or_else(bad)?.to_string());
                }
            }
            "env" => {
                for (k, v) in value.as_object().ok_or_else(bad)? {
                    spec.env.insert(k.clone(), v.as_str().ok_or_else(bad)?.to_string());
                }
            }
            "root" => spec.root = value.as_str().map(str::to_string),
            "exit_code" => spec.exit_code = value.as_i64().ok_or_else(bad)?,
            "stdout" => spec.stdout = Some(value.as_str().ok_or_else(bad)?.to_string()),
            "stderr" => spec.stderr = Some(value.as_str().ok_or_else(bad)?.to_string()),
            // Operation-based specs (sockets, http) are not used by the wasip1 tests.
            other => return Err(format!("{}: unsupported key `{other}`", path.display())),
        }
    }
    Ok(spec)
}

/// A fresh, empty temporary directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ward-wasi-suite-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

/// Runs one test; `Err` says why it failed.
fn run_test(wasm: &Path, id: &str, tier: &str) -> Result<(), String> {
    let spec = read_spec(wasm)?;
    let dir = scratch_dir(&format!("{tier}-{}", id.replace('/', "_")));
    let result = (|| {
        let module = dir.join(wasm.file_name().expect("module file name"));
        std::fs::copy(wasm, &module).map_err(|e| format!("copying the module: {e}"))?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward"));
        cmd.arg("run").arg("--tier").arg(tier);
        for (k, v) in &spec.env {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        if let Some(root) = &spec.root {
            let src = wasm.parent().expect("module directory").join(root);
            let dst = dir.join(root);
            copy_tree(&src, &dst).map_err(|e| format!("copying `{root}`: {e}"))?;
            let mut mapping = dst.into_os_string();
            mapping.push("::/");
            cmd.arg("--dir").arg(mapping);
        }
        cmd.arg(&module).args(&spec.args);
        let out = run(cmd).map_err(|e| format!("cannot run ward: {e}"))?;
        let tail = |s: &str| {
            let s = s.trim_end();
            let start = s.len().saturating_sub(800);
            let start = (start..=s.len()).find(|i| s.is_char_boundary(*i)).unwrap_or(s.len());
            s[start..].to_string()
        };
        if out.timed_out {
            return Err(format!("no exit after {TEST_TIMEOUT:?}"));
        }
        if out.code.map(i64::from) != Some(spec.exit_code) {
            return Err(format!(
                "exit status {:?}, expected {}\n      stderr: {}",
                out.code,
                spec.exit_code,
                tail(&out.stderr)
            ));
        }
        if let Some(expected) = &spec.stdout {
            if &out.stdout != expected {
                return Err(format!("stdout {:?}, expected {expected:?}", out.stdout));
            }
        }
        if let Some(expected) = &spec.stderr {
            if &out.stderr != expected {
                return Err(format!("stderr {:?}, expected {expected:?}", out.stderr));
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[test]
fn wasi_testsuite() {
    run_suite("interp");
}

#[test]
fn wasi_testsuite_native() {
    run_suite("native");
}

/// Which tier runs `wasm` under `Tier::Native`: `None` if native, else why it falls back.
fn native_fallback(wasm: &Path) -> Option<String> {
    let mut config = ward::Config::new();
    config.tier(ward::Tier::Native);
    let engine = ward::Engine::new(&config);
    match ward::Module::from_file(&engine, wasm) {
        Ok(m) if m.tier() == ward::Tier::Native => None,
        Ok(m) => Some(m.native_fallback_reason().unwrap_or("unknown").to_string()),
        Err(e) => Some(format!("does not load: {e}")),
    }
}

/// What a fallback reason is about (the operator, or the module-level reason), for the summary.
fn fallback_kind(reason: &str) -> String {
    match reason.split('`').nth(1) {
        Some(op) => op.split([' ', '{']).next().unwrap_or(op).to_string(),
        None => reason.to_string(),
    }
}

fn run_suite(tier: &str) {
    let suite = suite_dir();
    let modules = test_modules(&suite);
    if modules.is_empty() {
        let msg = format!(
            "\n================================================================\n\
             WASI TEST SUITE NOT FOUND: no tests/*/testsuite/wasm32-wasip1/*.wasm under\n  {}\n\
             Put the prebuilt wasm32-wasip1 tests of WebAssembly/wasi-testsuite there\n\
             (branch prod/testsuite-base), or point WARD_WASI_TESTSUITE at a copy.\n\
             ================================================================",
            suite.display()
        );
        loud(&msg);
        if std::env::var_os("CI").is_some() {
            panic!("the WASI test suite is required under CI{msg}");
        }
        loud("wasi_suite: SKIPPED (set CI to make this a failure)");
        return;
    }
    let tests_root = suite.join("tests");
    let mut failures = Vec::new();
    let mut fallbacks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for wasm in &modules {
        let rel = wasm.strip_prefix(&tests_root).unwrap_or(wasm);
        // "rust/testsuite/wasm32-wasip1/x.wasm" -> "rust/x"
        let lang = rel.iter().next().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let stem = wasm.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let id = format!("{lang}/{stem}");
        let ran = match tier {
            "native" => match native_fallback(wasm) {
                None => "native".to_string(),
                Some(reason) => {
                    let kind = fallback_kind(&reason);
                    fallbacks.entry(kind).or_default().push(id.clone());
                    format!("interpreted: {reason}")
                }
            },
            _ => String::new(),
        };
        match run_test(wasm, &id, tier) {
            Ok(()) => loud(&format!("  pass  {id} {ran}")),
            Err(why) => {
                loud(&format!("  FAIL  {id} {ran}: {why}"));
                failures.push(id);
            }
        }
    }
    let passed = modules.len() - failures.len();
    loud(&format!(
        "wasi-testsuite (wasm32-wasip1, --tier {tier}): {passed}/{} tests pass",
        modules.len()
    ));
    if tier == "native" {
        let interpreted: usize = fallbacks.values().map(Vec::len).sum();
        loud(&format!(
            "native tier: {} of {} modules ran natively, {interpreted} fell back",
            modules.len() - interpreted,
            modules.len()
        ));
        for (kind, ids) in &fallbacks {
            loud(&format!("  {} x {kind}: {}", ids.len(), ids.join(", ")));
        }
    }
    assert!(failures.is_empty(), "{} WASI test(s) failed: {}", failures.len(), failures.join(", "));
}

/// Just enough JSON for the test specs.
mod json {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Number(f64),
        String(String),
        Array(Vec<Value>),
        Object(Vec<(String, Value)>),
    }

    impl Value {
        pub fn as_str(&self) -> Option<&str> {
            match self {
                Value::String(s) => Some(s),
                _ => None,
            }
        }
        pub fn as_array(&self) -> Option<&[Value]> {
            match self {
                Value::Array(a) => Some(a),
                _ => None,
            }
        }
        pub fn as_object(&self) -> Option<&[(String, Value)]> {
            match self {
                Value::Object(o) => Some(o),
                _ => None,
            }
        }
        pub fn as_i64(&self) -> Option<i64> {
            match self {
                Value::Number(n) if n.fract() == 0.0 => Some(*n as i64),
                _ => None,
            }
        }
    }

    pub fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser { s: text.as_bytes(), i: 0 };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing characters at byte {}", p.i));
        }
        Ok(v)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }

        fn eat(&mut self, c: u8) -> Result<(), String> {
            self.ws();
            if self.s.get(self.i) == Some(&c) {
                self.i += 1;
                Ok(())
            } else {
                Err(format!("expected `{}` at byte {}", c as char, self.i))
            }
        }

        fn value(&mut self) -> Result<Value, String> {
            self.ws();
            match self.s.get(self.i) {
                Some(b'{') => {
                    self.i += 1;
                    let mut fields = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        return Ok(Value::Object(fields));
                    }
                    loop {
                        self.ws();
                        let key = self.string()?;
                        self.eat(b':')?;
                        fields.push((key, self.value()?));
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                return Ok(Value::Object(fields));
                            }
                            _ => return Err(format!("expected `,` or `}}` at byte {}", self.i)),
                        }
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    let mut items = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Ok(Value::Array(items));
                    }
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                return Ok(Value::Array(items));
                            }
                            _ => return Err(format!("expected `,` or `]` at byte {}", self.i)),
                        }
                    }
                }
                Some(b'"') => Ok(Value::String(self.string()?)),
                Some(b't') => self.word("true", Value::Bool(true)),
                Some(b'f') => self.word("false", Value::Bool(false)),
                Some(b'n') => self.word("null", Value::Null),
                Some(_) => {
                    let start = self.i;
                    while self.i < self.s.len() && b"+-0123456789.eE".contains(&self.s[self.i]) {
                        self.i += 1;
                    }
                    let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                    text.parse()
                        .map(Value::Number)
                        .map_err(|_| format!("bad value at byte {start}"))
                }
                None => Err("unexpected end of input".to_string()),
            }
        }

        fn word(&mut self, w: &str, v: Value) -> Result<Value, String> {
            if self.s[self.i..].starts_with(w.as_bytes()) {
                self.i += w.len();
                Ok(v)
            } else {
                Err(format!("bad literal at byte {}", self.i))
            }
        }

        fn string(&mut self) -> Result<String, String> {
            if self.s.get(self.i) != Some(&b'"') {
                return Err(format!("expected a string at byte {}", self.i));
            }
            self.i += 1;
            let mut out = String::new();
            loop {
                let rest = std::str::from_utf8(&self.s[self.i..]).map_err(|e| e.to_string())?;
                let mut chars = rest.char_indices();
                let Some((_, c)) = chars.next() else {
                    return Err("unterminated string".to_string());
                };
                self.i += c.len_utf8();
                match c {
                    '"' => return Ok(out),
                    '\\' => {
                        let esc = *self.s.get(self.i).ok_or("unterminated escape")?;
                        self.i += 1;
                        match esc {
                            b'"' => out.push('"'),
                            b'\\' => out.push('\\'),
                            b'/' => out.push('/'),
                            b'b' => out.push('\u{8}'),
                            b'f' => out.push('\u{c}'),
                            b'n' => out.push('\n'),
                            b'r' => out.push('\r'),
                            b't' => out.push('\t'),
                            b'u' => {
                                let hex =
                                    self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
                                let hex = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
                                let code =
                                    u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                                self.i += 4;
                                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                            }
                            other => return Err(format!("bad escape `\\{}`", other as char)),
                        }
                    }
                    c => out.push(c),
                }
            }
        }
    }

    #[test]
    fn parses_the_spec_shapes() {
        let v =
            parse(r#"{"args": ["a", "the \"b\""], "env": {"c": "new\nline"}, "exit_code": 33}"#)
                .unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(o[0].1.as_array().unwrap()[1].as_str(), Some("the \"b\""));
        assert_eq!(o[1].1.as_object().unwrap()[0].1.as_str(), Some("new\nline"));
        assert_eq!(o[2].1.as_i64(), Some(33));
        assert!(parse("{").is_err());
        assert_eq!(parse(" [ ] "), Ok(Value::Array(vec![])));
    }
}
