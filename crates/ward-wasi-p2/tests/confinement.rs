//! Attacks on the file-system confinement of WASI preview 2: `..`, absolute paths, symlinks
//! leading out (placed by the host and by the guest), and changes through a read-only
//! preopen. Each answer is checked (`not-permitted`), and a sibling directory outside the
//! preopen is compared before and after: nothing outside is touched.
//!
//! The host functions are reached through a component that imports the `wasi:filesystem`
//! interfaces and re-exports their functions, so the calls go through the linker as a guest's
//! would, with the values a guest would pass.

use std::collections::BTreeMap;
use std::path::Path;
use ward_component::{Component, Instance, Linker, Val};
use ward_wasi_p2::{DirAccess, WasiP2Ctx, WasiP2CtxBuilder};

const ERROR_CODES: &str = r#""access" "would-block" "already" "bad-descriptor" "busy" "deadlock"
  "quota" "exist" "file-too-large" "illegal-byte-sequence" "in-progress" "interrupted" "invalid"
  "io" "is-directory" "loop" "too-many-links" "message-size" "name-too-long" "no-device"
  "no-entry" "no-lock" "insufficient-memory" "insufficient-space" "not-directory" "not-empty"
  "not-recoverable" "unsupported" "no-tty" "no-such-device" "overflow" "not-permitted" "pipe"
  "read-only" "invalid-seek" "text-file-busy" "cross-device""#;

/// A component re-exporting the file-system functions the attacks use.
fn component_text() -> String {
    let methods = [
        ("create-directory-at", r#"(param "path" string) (result $r-unit)"#),
        ("unlink-file-at", r#"(param "path" string) (result $r-unit)"#),
        ("remove-directory-at", r#"(param "path" string) (result $r-unit)"#),
        ("symlink-at", r#"(param "old-path" string) (param "new-path" string) (result $r-unit)"#),
        (
            "rename-at",
            r#"(param "old-path" string) (param "new-descriptor" (borrow $d)) (param "new-path" string) (result $r-unit)"#,
        ),
        ("readlink-at", r#"(param "path" string) (result $r-str)"#),
        (
            "open-at",
            r#"(param "path-flags" $pf) (param "path" string) (param "open-flags" $of) (param "flags" $df) (result $r-open)"#,
        ),
        ("stat-at", r#"(param "path-flags" $pf) (param "path" string) (result $r-any)"#),
        ("write", r#"(param "buffer" (list u8)) (param "offset" u64) (result $r-any)"#),
    ];
    let mut decls = String::new();
    let mut aliases = String::new();
    for (name, sig) in methods {
        decls += &format!(
            "(export \"[method]descriptor.{name}\" (func (param \"self\" (borrow $d)) {sig}))\n"
        );
        aliases += &format!(
            "(alias export $t \"[method]descriptor.{name}\" (func ${name}))\n\
             (export \"{name}\" (func ${name}))\n"
        );
    }
    format!(
        r#"(component
  (import "wasi:filesystem/types@0.2.6" (instance $t
    (export "descriptor" (type $d (sub resource)))
    (type $ec (enum {ERROR_CODES}))
    (export "error-code" (type $e (eq $ec)))
    (type $pff (flags "symlink-follow"))
    (export "path-flags" (type $pf (eq $pff)))
    (type $off (flags "create" "directory" "exclusive" "truncate"))
    (export "open-flags" (type $of (eq $off)))
    (type $dff (flags "read" "write" "file-integrity-sync" "data-integrity-sync"
      "requested-write-sync" "mutate-directory"))
    (export "descriptor-flags" (type $df (eq $dff)))
    (type $own (own $d))
    (type $r-open (result $own (error $e)))
    (type $r-unit (result (error $e)))
    (type $r-str (result string (error $e)))
    (type $r-any (result u64 (error $e)))
    {decls}))
  (alias export $t "descriptor" (type $desc))
  (import "wasi:filesystem/preopens@0.2.6" (instance $p
    (alias outer 1 $desc (type $d))
    (export "descriptor" (type $pd (eq $d)))
    (type $own (own $pd))
    (export "get-directories" (func (result (list (tuple $own string)))))))
  (alias export $p "get-directories" (func $get-directories))
  (export "get-directories" (func $get-directories))
  {aliases})"#
    )
}

struct Guest {
    store: ward::Store<WasiP2Ctx>,
    instance: Instance,
    root: Val,
}

impl Guest {
    fn new(ctx: WasiP2Ctx) -> Guest {
        let engine = ward::Engine::default();
        let component = Component::new(&engine, component_text()).expect("component");
        let mut linker = Linker::<WasiP2Ctx>::new(&engine);
        ward_wasi_p2::add_to_linker(&mut linker, |c: &mut WasiP2Ctx| c).unwrap();
        let mut store = ward::Store::new(&engine, ctx);
        let instance = linker.instantiate(&mut store, &component).expect("instantiate");
        let mut g = Guest { store, instance, root: Val::Bool(false) };
        let dirs = g.call("get-directories", vec![]);
        if let Val::List(items) = dirs {
            if let Some(Val::Tuple(pair)) = items.first() {
                g.root = pair[0].clone();
            }
        }
        g
    }

    fn call(&mut self, name: &str, args: Vec<Val>) -> Val {
        let f = self.instance.get_func(name).unwrap_or_else(|| panic!("no export {name}"));
        let mut out = [Val::Bool(false)];
        f.call(&mut self.store, &args, &mut out).unwrap_or_else(|e| panic!("{name}: {e}"));
        let [v] = out;
        v
    }

    /// Calls method `name` on the preopen with `args` after `self`.
    fn at(&mut self, name: &str, mut args: Vec<Val>) -> Val {
        args.insert(0, borrow(&self.root));
        self.call(name, args)
    }

    fn open(&mut self, follow: bool, path: &str, oflags: &[&str], flags: &[&str]) -> Val {
        let pf = if follow { flags_val(&["symlink-follow"]) } else { flags_val(&[]) };
        self.at("open-at", vec![pf, s(path), flags_val(oflags), flags_val(flags)])
    }
}

fn borrow(v: &Val) -> Val {
    match v {
        Val::Resource(r) => Val::Resource(ward_component::ResourceAny::new_borrow(r.ty(), r.rep())),
        other => panic!("not a resource: {other}"),
    }
}

fn s(text: &str) -> Val {
    Val::String(text.into())
}

fn flags_val(names: &[&str]) -> Val {
    Val::Flags(names.iter().map(|n| n.to_string()).collect())
}

/// The error code of a `result`, or `None` if it is `ok`.
fn code(v: &Val) -> Option<String> {
    match v {
        Val::Result(Ok(_)) => None,
        Val::Result(Err(Some(e))) => match &**e {
            Val::Enum(c) => Some(c.clone()),
            other => panic!("not an error code: {other}"),
        },
        other => panic!("not a result: {other}"),
    }
}

fn denied(v: &Val) {
    assert_eq!(code(v).as_deref(), Some("not-permitted"), "{v}");
}

/// Every file beneath `dir` with its contents (symlinks as their text).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let key = p.strip_prefix(dir).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                out.insert(key, std::fs::read_link(&p).unwrap().display().to_string().into_bytes());
            } else if meta.is_dir() {
                out.insert(key + "/", Vec::new());
                stack.push(p);
            } else {
                out.insert(key, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A temporary tree: `sandbox/` (the preopen, with `sub/`, `file.txt`, and host-made
/// symlinks `up -> ../outside`, `abs -> <outside, absolute>`) beside `outside/secret`.
fn tree() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let sandbox = tmp.path().join("sandbox");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(sandbox.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    std::fs::write(sandbox.join("file.txt"), b"inside").unwrap();
    std::os::unix::fs::symlink("../outside", sandbox.join("up")).unwrap();
    std::os::unix::fs::symlink(&outside, sandbox.join("abs")).unwrap();
    (tmp, sandbox, outside)
}

fn guest(sandbox: &Path, access: DirAccess) -> Guest {
    let ctx =
        WasiP2CtxBuilder::new().preopened_dir_path_with(sandbox, "/", access).unwrap().build();
    Guest::new(ctx)
}

#[test]
fn nothing_is_granted_by_default() {
    let mut g = Guest::new(WasiP2CtxBuilder::new().build());
    assert_eq!(g.call("get-directories", vec![]), Val::List(vec![]));
}

#[test]
fn dot_dot_and_absolute_paths_stay_inside() {
    let (_tmp, sandbox, outside) = tree();
    let before = snapshot(&outside);
    let mut g = guest(&sandbox, DirAccess::ReadWrite);
    for path in ["../outside/secret", "sub/../../outside/secret", "/etc/passwd", ".."] {
        denied(&g.open(true, path, &[], &["read"]));
        denied(&g.open(false, path, &[], &["read"]));
    }
    denied(&g.open(false, "../outside/new", &["create"], &["write"]));
    denied(&g.at("create-directory-at", vec![s("../outside/d")]));
    denied(&g.at("unlink-file-at", vec![s("../outside/secret")]));
    denied(&g.at("stat-at", vec![flags_val(&[]), s("../outside/secret")]));
    let root = borrow(&g.root);
    denied(&g.at("rename-at", vec![s("file.txt"), root.clone(), s("../outside/stolen")]));
    denied(&g.at("rename-at", vec![s("../outside/secret"), root, s("stolen")]));
    // Inside still works.
    assert!(code(&g.open(false, "sub/../file.txt", &[], &["read"])).is_none());
    assert_eq!(snapshot(&outside), before);
    assert!(!sandbox.join("stolen").exists());
}

#[test]
fn symlinks_do_not_lead_out() {
    let (_tmp, sandbox, outside) = tree();
    let before = snapshot(&outside);
    let mut g = guest(&sandbox, DirAccess::ReadWrite);
    for path in ["up/secret", "abs/secret", "up", "abs"] {
        denied(&g.open(true, path, &[], &["read"]));
    }
    denied(&g.open(true, "up/new", &["create"], &["write"]));
    denied(&g.open(true, "abs/secret", &["truncate"], &["write"]));
    // Without following, the last component is the link itself, which is not opened.
    assert_eq!(code(&g.open(false, "up", &[], &["read"])).as_deref(), Some("loop"));
    // Links a guest would place leading out are refused, never created.
    denied(&g.at("symlink-at", vec![s("/etc/passwd"), s("evil")]));
    denied(&g.at("symlink-at", vec![s("../outside/secret"), s("evil")]));
    denied(&g.at("symlink-at", vec![s("../../outside"), s("sub/evil")]));
    assert!(std::fs::symlink_metadata(sandbox.join("evil")).is_err());
    assert!(std::fs::symlink_metadata(sandbox.join("sub/evil")).is_err());
    // Moving a host-made link deeper cannot be used to point it further out either.
    let root = borrow(&g.root);
    assert!(code(&g.at("symlink-at", vec![s("../file.txt"), s("sub/ok")])).is_none());
    denied(&g.at("rename-at", vec![s("sub/ok"), root, s("ok")]));
    // Reading a link's text is allowed and follows nothing.
    let text = g.at("readlink-at", vec![s("up")]);
    assert_eq!(text, Val::Result(Ok(Some(Box::new(s("../outside"))))));
    assert_eq!(snapshot(&outside), before);
}

#[test]
fn read_only_preopen_refuses_every_change() {
    let (_tmp, sandbox, outside) = tree();
    let (before_in, before_out) = (snapshot(&sandbox), snapshot(&outside));
    let mut g = guest(&sandbox, DirAccess::ReadOnly);
    denied(&g.open(false, "new.txt", &["create"], &["write"]));
    denied(&g.open(false, "file.txt", &[], &["read", "write"]));
    denied(&g.open(false, "file.txt", &["truncate"], &["read"]));
    denied(&g.open(false, "sub", &["directory"], &["read", "mutate-directory"]));
    denied(&g.at("create-directory-at", vec![s("d")]));
    denied(&g.at("unlink-file-at", vec![s("file.txt")]));
    denied(&g.at("remove-directory-at", vec![s("sub")]));
    denied(&g.at("symlink-at", vec![s("file.txt"), s("l")]));
    let root = borrow(&g.root);
    denied(&g.at("rename-at", vec![s("file.txt"), root, s("moved")]));
    // A subdirectory opened through it is read-only too.
    let sub = g.open(false, "sub", &["directory"], &["read"]);
    let Val::Result(Ok(Some(sub))) = sub else { panic!("open sub: {sub}") };
    let f = g.instance.get_func("create-directory-at").unwrap();
    let mut out = [Val::Bool(false)];
    f.call(&mut g.store, &[borrow(&sub), s("d")], &mut out).unwrap();
    denied(&out[0]);
    // A file opened for reading cannot be written through.
    let file = g.open(false, "file.txt", &[], &["read"]);
    let Val::Result(Ok(Some(file))) = file else { panic!("open file: {file}") };
    let f = g.instance.get_func("write").unwrap();
    f.call(&mut g.store, &[borrow(&file), Val::Bytes(b"x".to_vec()), Val::U64(0)], &mut out)
        .unwrap();
    assert_eq!(code(&out[0]).as_deref(), Some("bad-descriptor"));
    assert_eq!(snapshot(&sandbox), before_in);
    assert_eq!(snapshot(&outside), before_out);
}
