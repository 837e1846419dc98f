//! Test components shared by the tests: a bump allocator, a component whose export `run`
//! forwards its argument to a host import `echo` and returns what `echo` returns, and a call of
//! one export of a freshly instantiated component.

#![allow(dead_code)]

use ward_component::{Component, Error, Linker, Val};

/// A bump allocator and memory, shared by every test component.
pub const LIBC: &str = r#"
  (core module $libc
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param $old i32) (param $osize i32) (param $align i32) (param $nsize i32) (result i32)
      (local $r i32)
      (local.set $r (i32.and (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get $align))))
      (global.set $next (i32.add (local.get $r) (local.get $nsize)))
      (if (local.get $old) (then (memory.copy (local.get $r) (local.get $old) (local.get $osize))))
      (local.get $r)))
  (core instance $libc (instantiate $libc))
"#;

/// A component whose `run` forwards its argument of type `$t` to the import `echo`.
/// `decls` declares types inside the import's instance type (ending with an export named `t`),
/// `params` are the core parameter types of the flattened argument, and `spilled` says whether
/// the result goes through memory (a return pointer) rather than one core value.
pub fn echo_component(decls: &str, params: &[&str], result: &str, encoding: &str) -> String {
    let spilled = result == "spill";
    let names: Vec<String> = (0..params.len()).map(|i| format!("(local.get {i})")).collect();
    let import_params = if spilled {
        format!("(param {} i32)", params.join(" "))
    } else {
        format!("(param {}) (result {result})", params.join(" "))
    };
    let export_result = if spilled { "i32".to_string() } else { result.to_string() };
    let body = if spilled {
        format!("(call $echo {} (i32.const 64)) (i32.const 64)", names.join(" "))
    } else {
        format!("(call $echo {})", names.join(" "))
    };
    format!(
        r#"(component
  (import "test:echo/echo" (instance $e {decls}
    (export "echo" (func (param "x" $t) (result $t)))))
  (alias export $e "t" (type $t))
  (alias export $e "echo" (func $echo))
  {LIBC}
  (core func $echo (canon lower (func $echo) string-encoding={encoding}
    (memory (core memory $libc "mem")) (realloc (core func $libc "realloc"))))
  (core module $main
    (import "" "echo" (func $echo {import_params}))
    (func (export "run") (param {params}) (result {export_result}) {body}))
  (core instance $main (instantiate $main (with "" (instance (export "echo" (func $echo))))))
  (func (export "run") (param "x" $t) (result $t)
    (canon lift (core func $main "run") string-encoding={encoding}
      (memory (core memory $libc "mem")) (realloc (core func $libc "realloc")))))"#,
        params = params.join(" "),
    )
}

/// A linker defining the `echo` import of [`echo_component`]: it records each value it is
/// passed in the store's data and returns it.
pub fn echo_linker(engine: &ward::Engine) -> Result<Linker<Vec<Val>>, Error> {
    let mut linker = Linker::<Vec<Val>>::new(engine);
    linker.func_new("test:echo/echo", "echo", |mut store, params, results| {
        store.data_mut().push(params[0].clone());
        results[0] = params[0].clone();
        Ok(())
    })?;
    Ok(linker)
}

/// Instantiates `component` (text) in a fresh engine and store with no imports and calls its
/// export `name` with `args`; its one result.
pub fn call_fresh(component: &str, name: &str, args: &[Val]) -> Result<Val, Error> {
    let engine = ward::Engine::default();
    let component = Component::new(&engine, component).unwrap();
    let mut store = ward::Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component).unwrap();
    let mut out = [Val::U32(0)];
    instance.get_func(name).unwrap().call(&mut store, args, &mut out)?;
    Ok(out[0].clone())
}
