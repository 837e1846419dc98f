//! Runs component-model `.wast` scripts (the reference tests of the component model).
//!
//! Supported directives: `component` (also `component definition` and `component instance`),
//! core `module`s (compiled and otherwise ignored), `assert_invalid`, `assert_malformed`,
//! `assert_unlinkable`, `assert_trap`, `assert_return`, `invoke` and `register`. Each counts
//! once as passed or failed; a panic while running a directive is caught and counted as its
//! failure. A trap message matches when the error's text contains the expected text (with a
//! leading `wasm trap: ` of the expectation ignored).
//!
//! ```
//! let report = ward_component::wast::run_script("inline.wast", r#"
//!   (component
//!     (core module $m (func (export "f") (result i32) i32.const 7))
//!     (core instance $i (instantiate $m))
//!     (func (export "f") (result u8) (canon lift (core func $i "f"))))
//!   (assert_return (invoke "f") (u8.const 7))
//!   (assert_return (invoke "f") (u8.const 8))
//! "#);
//! assert_eq!((report.passed, report.failed), (2, 1));
//! ```

use crate::{Component, Instance, Linker, Val};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use wast::component::WastVal;
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

pub use ward_wast::{Failure, Report};

fn new_report(path: &Path) -> Report {
    Report::new(path)
}

fn fail(report: &mut Report, line: usize, directive: &'static str, message: String) {
    report.failed += 1;
    let message = message.replace('\n', " ");
    report.failures.push(Failure { line, column: 0, directive, message });
}

/// Reads and runs one script; an unreadable file is one failure.
pub fn run_file(path: impl AsRef<Path>) -> Report {
    run_file_with(path, &ward::Config::new())
}

/// [`run_file`] with an engine of configuration `config` (its tier, say).
pub fn run_file_with(path: impl AsRef<Path>, config: &ward::Config) -> Report {
    let path = path.as_ref();
    match std::fs::read_to_string(path) {
        Ok(source) => run_script_with(path, &source, config),
        Err(e) => {
            let mut r = new_report(path);
            fail(&mut r, 0, "file", format!("cannot read `{}`: {e}", path.display()));
            r
        }
    }
}

/// Runs a script given as text on a thread with a large stack; `path` only names it.
pub fn run_script(path: impl AsRef<Path>, source: &str) -> Report {
    run_script_with(path, source, &ward::Config::new())
}

/// [`run_script`] with an engine of configuration `config`.
pub fn run_script_with(path: impl AsRef<Path>, source: &str, config: &ward::Config) -> Report {
    let path = path.as_ref();
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(s, || run_here(path, source, config));
        match spawned {
            Ok(h) => h.join().unwrap_or_else(|_| {
                let mut r = new_report(path);
                fail(&mut r, 0, "script", "the runner panicked".into());
                r
            }),
            Err(_) => run_here(path, source, config),
        }
    })
}

/// Whether the script `source` is a component-model script: one of its directives defines,
/// instantiates or asserts something about a component. A script that cannot be parsed is not
/// (the core-module runner reports why).
pub fn is_component_script(source: &str) -> bool {
    // Every component directive spells the keyword: a script without it is not parsed here.
    if !source.contains("component") {
        return false;
    }
    let Ok(buf) = ParseBuffer::new_with_lexer({
        let mut l = Lexer::new(source);
        l.allow_confusing_unicode(true);
        l
    }) else {
        return false;
    };
    let Ok(script) = parser::parse::<Wast>(&buf) else { return false };
    let component = |q: &QuoteWat<'_>| {
        matches!(q, QuoteWat::Wat(Wat::Component(_)) | QuoteWat::QuoteComponent(..))
    };
    script.directives.iter().any(|d| match d {
        WastDirective::Module(q)
        | WastDirective::ModuleDefinition(q)
        | WastDirective::AssertMalformed { module: q, .. }
        | WastDirective::AssertInvalid { module: q, .. } => component(q),
        WastDirective::AssertUnlinkable { module, .. } => matches!(module, Wat::Component(_)),
        WastDirective::AssertTrap { exec, .. }
        | WastDirective::AssertReturn { exec, .. }
        | WastDirective::AssertException { exec, .. } => {
            matches!(exec, WastExecute::Wat(Wat::Component(_)))
        }
        _ => false,
    })
}

struct Runner {
    engine: ward::Engine,
    store: ward::Store<()>,
    linker: Linker<()>,
    current: Option<Instance>,
    named: HashMap<String, Instance>,
    definitions: HashMap<String, Component>,
}

fn run_here(path: &Path, source: &str, config: &ward::Config) -> Report {
    let mut report = new_report(path);
    let buf = match ParseBuffer::new_with_lexer({
        let mut l = Lexer::new(source);
        l.allow_confusing_unicode(true);
        l
    }) {
        Ok(b) => b,
        Err(e) => {
            fail(&mut report, 0, "script", e.to_string());
            return report;
        }
    };
    let script = match parser::parse::<Wast>(&buf) {
        Ok(s) => s,
        Err(e) => {
            fail(&mut report, 0, "script", e.to_string());
            return report;
        }
    };
    let engine = ward::Engine::new(config);
    let mut runner = Runner {
        store: ward::Store::new(&engine, ()),
        linker: Linker::new(&engine),
        engine,
        current: None,
        named: HashMap::new(),
        definitions: HashMap::new(),
    };
    for directive in script.directives {
        let line = directive.span().linecol_in(source).0 + 1;
        let name = directive_name(&directive);
        match catch_unwind(AssertUnwindSafe(|| runner.run(directive))) {
            Ok(Ok(())) => report.passed += 1,
            Ok(Err(msg)) => fail(&mut report, line, name, msg),
            Err(_) => fail(&mut report, line, name, "panicked".into()),
        }
    }
    report
}

fn directive_name(d: &WastDirective<'_>) -> &'static str {
    match d {
        WastDirective::Module(_) => "component",
        WastDirective::ModuleDefinition(_) => "component definition",
        WastDirective::ModuleInstance { .. } => "component instance",
        WastDirective::AssertMalformed { .. } => "assert_malformed",
        WastDirective::AssertInvalid { .. } => "assert_invalid",
        WastDirective::Register { .. } => "register",
        WastDirective::Invoke(_) => "invoke",
        WastDirective::AssertTrap { .. } => "assert_trap",
        WastDirective::AssertReturn { .. } => "assert_return",
        WastDirective::AssertUnlinkable { .. } => "assert_unlinkable",
        _ => "unsupported",
    }
}

fn trap_matches(err: &str, expected: &str) -> bool {
    let expected = expected.strip_prefix("wasm trap: ").unwrap_or(expected);
    // Wasmtime's wording of core traps the scripts use, and Ward's.
    let expected = match expected {
        "wasm `unreachable` instruction executed" => "unreachable",
        e => e,
    };
    err.contains(expected)
}

impl Runner {
    fn compile(&self, wat: &mut QuoteWat<'_>) -> Result<Option<Component>, String> {
        let is_module = matches!(wat, QuoteWat::Wat(Wat::Module(_)) | QuoteWat::QuoteModule(..));
        let bytes = wat.encode().map_err(|e| e.to_string())?;
        if is_module {
            ward::Module::new(&self.engine, &bytes).map_err(|e| e.to_string())?;
            return Ok(None);
        }
        Component::from_binary(&self.engine, &bytes).map(Some).map_err(|e| e.to_string())
    }

    fn instantiate(&mut self, c: &Component) -> Result<Instance, String> {
        self.linker.instantiate(&mut self.store, c).map_err(|e| e.to_string())
    }

    fn run(&mut self, directive: WastDirective<'_>) -> Result<(), String> {
        match directive {
            WastDirective::Module(mut wat) => {
                let name = wat.name().map(|id| id.name().to_string());
                if let Some(c) = self.compile(&mut wat)? {
                    let inst = self.instantiate(&c)?;
                    if let Some(n) = name {
                        self.named.insert(n, inst.clone());
                    }
                    self.current = Some(inst);
                }
                Ok(())
            }
            WastDirective::ModuleDefinition(mut wat) => {
                let name = wat.name().map(|id| id.name().to_string());
                if let (Some(c), Some(n)) = (self.compile(&mut wat)?, name) {
                    self.definitions.insert(n, c);
                }
                Ok(())
            }
            WastDirective::ModuleInstance { instance, module, .. } => {
                let def = module.map(|m| m.name().to_string()).unwrap_or_default();
                let c =
                    self.definitions.get(&def).cloned().ok_or(format!("no definition `{def}`"))?;
                let inst = self.instantiate(&c)?;
                if let Some(n) = instance {
                    self.named.insert(n.name().to_string(), inst.clone());
                }
                self.current = Some(inst);
                Ok(())
            }
            WastDirective::AssertMalformed { mut module, .. }
            | WastDirective::AssertInvalid { mut module, .. } => match self.compile(&mut module) {
                Ok(_) => Err("expected an invalid or malformed component, but it compiled".into()),
                Err(_) => Ok(()),
            },
            WastDirective::AssertUnlinkable { module, .. } => {
                let mut wat = QuoteWat::Wat(module);
                match self.compile(&mut wat)? {
                    Some(c) => match self.instantiate(&c) {
                        Ok(_) => Err("expected a link error, but it instantiated".into()),
                        Err(_) => Ok(()),
                    },
                    None => Err("assert_unlinkable of a core module".into()),
                }
            }
            WastDirective::Register { name, module, .. } => {
                let inst = self.instance_named(module.map(|m| m.name()))?;
                self.linker.instance(name, &inst).map_err(|e| e.to_string())
            }
            WastDirective::Invoke(invoke) => self.invoke(&invoke).map(|_| ()),
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec) {
                Ok(_) => Err(format!("expected a trap `{message}`, got a result")),
                Err(e) if trap_matches(&e, message) => Ok(()),
                Err(e) => Err(format!("expected trap `{message}`, got `{e}`")),
            },
            WastDirective::AssertReturn { exec, results, .. } => {
                let got = self.execute(exec)?;
                if got.len() != results.len() {
                    return Err(format!("expected {} results, got {}", results.len(), got.len()));
                }
                for (want, got) in results.iter().zip(&got) {
                    match want {
                        WastRet::Component(w) if matches(w, got) => {}
                        WastRet::Component(w) => {
                            return Err(format!("expected {w:?}, got {got}"));
                        }
                        _ => return Err("core results are not supported".into()),
                    }
                }
                Ok(())
            }
            _ => Err("directive not supported by the component runner".into()),
        }
    }

    fn instance_named(&self, name: Option<&str>) -> Result<Instance, String> {
        match name {
            Some(n) => self.named.get(n).cloned().ok_or(format!("no instance named `{n}`")),
            None => self.current.clone().ok_or("no current instance".into()),
        }
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Vec<Val>, String> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Wat(wat) => {
                let mut wat = QuoteWat::Wat(wat);
                if let Some(c) = self.compile(&mut wat)? {
                    self.instantiate(&c)?;
                }
                Ok(Vec::new())
            }
            WastExecute::Get { .. } => Err("`get` is not supported for components".into()),
        }
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Vec<Val>, String> {
        let inst = self.instance_named(invoke.module.map(|m| m.name()))?;
        let func = inst.get_func(invoke.name).ok_or(format!("no function `{}`", invoke.name))?;
        let mut args = Vec::with_capacity(invoke.args.len());
        for a in &invoke.args {
            match a {
                WastArg::Component(v) => args.push(to_val(v)?),
                _ => return Err("core arguments are not supported".into()),
            }
        }
        let n = func.ty().map_or(0, |t| t.result().is_some() as usize);
        let mut results = vec![Val::Bool(false); n];
        func.call(&mut self.store, &args, &mut results).map_err(|e| e.to_string())?;
        Ok(results)
    }
}

fn boxed(v: &Option<Box<WastVal<'_>>>) -> Result<Option<Box<Val>>, String> {
    v.as_ref().map(|v| to_val(v).map(Box::new)).transpose()
}

fn to_val(v: &WastVal<'_>) -> Result<Val, String> {
    Ok(match v {
        WastVal::Bool(b) => Val::Bool(*b),
        WastVal::U8(x) => Val::U8(*x),
        WastVal::S8(x) => Val::S8(*x),
        WastVal::U16(x) => Val::U16(*x),
        WastVal::S16(x) => Val::S16(*x),
        WastVal::U32(x) => Val::U32(*x),
        WastVal::S32(x) => Val::S32(*x),
        WastVal::U64(x) => Val::U64(*x),
        WastVal::S64(x) => Val::S64(*x),
        WastVal::F32(x) => Val::Float32(f32::from_bits(x.bits)),
        WastVal::F64(x) => Val::Float64(f64::from_bits(x.bits)),
        WastVal::Char(c) => Val::Char(*c),
        WastVal::String(s) => Val::String(s.to_string()),
        WastVal::List(items) => Val::List(items.iter().map(to_val).collect::<Result<_, _>>()?),
        WastVal::Tuple(items) => Val::Tuple(items.iter().map(to_val).collect::<Result<_, _>>()?),
        WastVal::Record(fields) => Val::Record(
            fields
                .iter()
                .map(|(n, v)| Ok((n.to_string(), to_val(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        WastVal::Variant(n, p) => Val::Variant(n.to_string(), boxed(p)?),
        WastVal::Enum(n) => Val::Enum(n.to_string()),
        WastVal::Option(p) => Val::Option(boxed(p)?),
        WastVal::Result(Ok(p)) => Val::Result(Ok(boxed(p)?)),
        WastVal::Result(Err(p)) => Val::Result(Err(boxed(p)?)),
        WastVal::Flags(names) => Val::Flags(names.iter().map(|n| n.to_string()).collect()),
        WastVal::Map(_) => return Err("map values are not supported".into()),
    })
}

fn matches_opt(want: &Option<Box<WastVal<'_>>>, got: &Option<Box<Val>>) -> bool {
    match (want, got) {
        (None, None) => true,
        (Some(w), Some(g)) => matches(w, g),
        _ => false,
    }
}

fn matches_all(want: &[WastVal<'_>], got: &[Val]) -> bool {
    want.len() == got.len() && want.iter().zip(got).all(|(w, g)| matches(w, g))
}

/// Whether a lifted value is the expected one (NaN matches any NaN).
fn matches(want: &WastVal<'_>, got: &Val) -> bool {
    match (want, got) {
        (WastVal::F32(w), Val::Float32(g)) => {
            let w = f32::from_bits(w.bits);
            (w.is_nan() && g.is_nan()) || w.to_bits() == g.to_bits()
        }
        (WastVal::F64(w), Val::Float64(g)) => {
            let w = f64::from_bits(w.bits);
            (w.is_nan() && g.is_nan()) || w.to_bits() == g.to_bits()
        }
        (WastVal::List(w), Val::List(g)) | (WastVal::Tuple(w), Val::Tuple(g)) => matches_all(w, g),
        (WastVal::List(w), Val::Bytes(g)) => {
            w.len() == g.len()
                && w.iter().zip(g).all(|(w, g)| matches!(w, WastVal::U8(x) if x == g))
        }
        (WastVal::Record(w), Val::Record(g)) => {
            w.len() == g.len()
                && w.iter().zip(g).all(|((wn, wv), (gn, gv))| wn == gn && matches(wv, gv))
        }
        (WastVal::Variant(wn, wp), Val::Variant(gn, gp)) => wn == gn && matches_opt(wp, gp),
        (WastVal::Option(w), Val::Option(g)) => matches_opt(w, g),
        (WastVal::Result(Ok(w)), Val::Result(Ok(g)))
        | (WastVal::Result(Err(w)), Val::Result(Err(g))) => matches_opt(w, g),
        (WastVal::Flags(w), Val::Flags(g)) => {
            let mut w: Vec<&str> = w.to_vec();
            let mut g: Vec<&str> = g.iter().map(String::as_str).collect();
            w.sort_unstable();
            g.sort_unstable();
            w == g
        }
        _ => to_val(want).is_ok_and(|w| &w == got),
    }
}
