use std::time::Duration;
use ward_nano::{ExitReason, Runtime, RuntimeConfig, SpawnOptions, TemplateSpec};

#[test]
fn echo_roundtrip_through_endpoint() {
    let rt = Runtime::new(RuntimeConfig { workers: 2, ..Default::default() }).unwrap();
    let m = ward::Module::new(
        rt.engine(),
        r#"(module
      (import "ward:nano" "receive" (func $recv (param i32 i32 i32 i32) (result i32)))
      (import "ward:nano" "send" (func $send (param i64 i32 i32 i32) (result i32)))
      (import "ward:nano" "msg_sender" (func $sender (result i64)))
      (memory (export "memory") 1)
      (func (export "main") (local $n i32)
        (loop $l
          (local.set $n (call $recv (i32.const 0) (i32.const 1024) (i32.const -1) (i32.const -1)))
          (drop (call $send (call $sender) (i32.const 0) (local.get $n) (i32.const 1)))
          (br $l))))"#,
    )
    .unwrap();
    rt.add_template(TemplateSpec::new("echo", m)).unwrap();
    let ep = rt.endpoint();
    let p = rt
        .spawn_with("echo", SpawnOptions { handles: vec![ep.pid()], ..Default::default() })
        .unwrap();
    for i in 0..100u32 {
        assert!(ep.send(p.pid(), 0, &i.to_le_bytes(), 0));
        let m = ep.recv(Duration::from_secs(5)).expect("echo");
        assert_eq!(&*m.data, &i.to_le_bytes());
        assert_eq!(m.sender, p.pid());
    }
    rt.kill(p.pid());
    assert!(matches!(p.wait(Duration::from_secs(5)), Some(ExitReason::Killed(_))));
}
