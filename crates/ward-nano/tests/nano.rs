//! Nanoprocess behaviour through the public API, with the example guests.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use ward_nano::{
    tags, Caps, Endpoint, ExitReason, Limits, Runtime, RuntimeConfig, SpawnOptions, TemplateSpec,
};

const T: Duration = Duration::from_secs(20);

fn guest(name: &str) -> &'static str {
    match name {
        "echo" => include_str!("../examples/guests/echo.wat"),
        "pinger" => include_str!("../examples/guests/pinger.wat"),
        "stage" => include_str!("../examples/guests/stage.wat"),
        "pipeline" => include_str!("../examples/guests/pipeline.wat"),
        "supervisor" => include_str!("../examples/guests/supervisor.wat"),
        "crasher" => include_str!("../examples/guests/crasher.wat"),
        "spinner" => include_str!("../examples/guests/spinner.wat"),
        "memhog" => include_str!("../examples/guests/memhog.wat"),
        "hostile" => include_str!("../examples/guests/hostile.wat"),
        "watcher" => include_str!("../examples/guests/watcher.wat"),
        "ender" => include_str!("../examples/guests/ender.wat"),
        "spawner" => include_str!("../examples/guests/spawner.wat"),
        _ => panic!("no guest {name}"),
    }
}

fn runtime(workers: usize) -> Runtime {
    Runtime::new(RuntimeConfig { workers, ..Default::default() }).unwrap()
}

fn add(rt: &Runtime, name: &str, src: &str, caps: Caps, limits: Limits) {
    let m = ward::Module::new(rt.engine(), guest(src)).unwrap();
    rt.add_template(TemplateSpec::new(name, m).caps(caps).limits(limits)).unwrap();
}

fn add_plain(rt: &Runtime, names: &[&str]) {
    for n in names {
        add(rt, n, n, Caps::none(), Limits::default());
    }
}

fn spawns(names: &[&str]) -> Caps {
    Caps { spawn: names.iter().map(|s| s.to_string()).collect(), ..Caps::none() }
}

fn granted(ep: &Endpoint) -> SpawnOptions {
    SpawnOptions { handles: vec![ep.pid()], ..Default::default() }
}

fn i32s(data: &[u8]) -> Vec<i32> {
    data.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect()
}

/// Runs `rounds` round trips between a pinger and an echo; returns how long they took.
fn ping_pong(rt: &Runtime, ep: &Endpoint, rounds: u32) -> Duration {
    let echo = rt.spawn("echo").unwrap();
    let pinger = rt.spawn_with("pinger", granted(ep)).unwrap();
    let start = Instant::now();
    assert!(ep.send(pinger.pid(), 1, &rounds.to_le_bytes(), echo.pid()));
    ep.recv_tag(3, Duration::from_secs(60)).expect("the ping-pong pair finished");
    rt.kill(echo.pid());
    start.elapsed()
}

#[test]
fn ping_pong_round_trips() {
    let rt = runtime(2);
    add_plain(&rt, &["echo", "pinger"]);
    let ep = rt.endpoint();
    ping_pong(&rt, &ep, 10_000);
}

#[test]
fn spinning_processes_do_not_starve_a_ping_pong_pair() {
    // One worker, two endless loops that never call the host: only preemption lets the pair run.
    let rt = runtime(1);
    add_plain(&rt, &["echo", "pinger", "spinner"]);
    let s1 = rt.spawn("spinner").unwrap();
    let s2 = rt.spawn("spinner").unwrap();
    let ep = rt.endpoint();
    let took = ping_pong(&rt, &ep, 2_000);
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(s1.exit_reason(), None, "the spinners still run");
    rt.kill(s1.pid());
    rt.kill(s2.pid());
    assert!(matches!(s1.wait(T), Some(ExitReason::Killed(_))));
    assert!(matches!(s2.wait(T), Some(ExitReason::Killed(_))));
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn ten_thousand_blocked_receivers_hold_no_threads() {
    let rt = runtime(2);
    add_plain(&rt, &["echo", "pinger"]);
    let ep = rt.endpoint();
    let before = threads();
    let procs: Vec<_> = (0..10_000).map(|_| rt.spawn("echo").unwrap()).collect();
    assert!(rt.wait_idle(Duration::from_secs(60)));
    assert_eq!(rt.live_processes(), 10_000);
    // Other tests of this binary run in parallel and may start threads; ours add none, so the
    // count cannot have grown by anywhere near one per process.
    let after = threads();
    assert!(after < before + 16, "threads {before} -> {after}");
    // Every one of them still answers.
    for p in procs.iter().step_by(997) {
        assert!(ep.send(p.pid(), 0, b"hi", ep.pid()));
        let m = ep.recv(T).expect("an answer");
        assert_eq!((&*m.data, m.sender), (&b"hi"[..], p.pid()));
    }
    ping_pong(&rt, &ep, 100);
}

#[test]
fn trapping_and_memory_exhausting_processes_leave_the_others_running() {
    let rt = runtime(2);
    add_plain(&rt, &["echo", "pinger", "crasher"]);
    let small = Limits { memory_bytes: 4 << 20, ..Limits::default() };
    add(&rt, "memhog", "memhog", Caps::none(), small);
    let short = Limits { deadline_ms: Some(300), ..Limits::default() };
    add(&rt, "spinner", "spinner", Caps::none(), short);
    let ep = rt.endpoint();
    let echo = rt.spawn("echo").unwrap();
    let crasher = rt.spawn("crasher").unwrap();
    let hog = rt.spawn("memhog").unwrap();
    let spinner = rt.spawn("spinner").unwrap();
    assert!(matches!(crasher.wait(T), Some(ExitReason::Trap(m)) if m.contains("unreachable")));
    assert!(matches!(hog.wait(T), Some(ExitReason::Trap(m)) if m.contains("out of bounds")));
    assert_eq!(spinner.wait(T), Some(ExitReason::Deadline));
    assert!(ep.send(echo.pid(), 0, b"still here", ep.pid()));
    assert_eq!(&*ep.recv(T).unwrap().data, b"still here");
    ping_pong(&rt, &ep, 100);
    assert_eq!(echo.exit_reason(), None);
}

#[test]
fn hostile_tenant_fails_at_everything() {
    let rt = runtime(2);
    add_plain(&rt, &["echo"]);
    let limits = Limits { memory_bytes: 1 << 20, deadline_ms: Some(1500), ..Limits::default() };
    add(&rt, "hostile", "hostile", Caps::none(), limits);
    let ep = rt.endpoint();
    let victims: Vec<_> = (0..50).map(|_| rt.spawn("echo").unwrap()).collect();
    let hostile = rt.spawn_with("hostile", granted(&ep)).unwrap();
    assert!(ep.send(hostile.pid(), 1, &[], 0));
    let report = ep.recv_tag(3, T).expect("the hostile tenant's report");
    let r = i32s(&report.data);
    let expected_perm = (1..=10_000u64).filter(|p| *p != ep.pid() && *p != hostile.pid()).count();
    assert_eq!(r[0] as usize, expected_perm, "every send to an ungranted pid is refused");
    assert_eq!(r[1], ward_nano::guest::errors::PERM, "spawning an ungranted template");
    assert_eq!(r[2], -1, "memory.grow beyond its limit");
    assert_eq!(r[3], ward_nano::guest::errors::FAULT, "sending from outside its memory");
    assert_eq!(r[4], ward_nano::guest::errors::TOO_BIG, "a 2 GiB message");
    // Its endless loop ends at its deadline; the victims got nothing and still answer.
    assert_eq!(hostile.wait(T), Some(ExitReason::Deadline));
    for v in &victims {
        assert!(ep.send(v.pid(), 0, b"ok?", ep.pid()));
        let m = ep.recv(T).unwrap();
        assert_eq!((&*m.data, m.tag), (&b"ok?"[..], 2), "a victim received nothing else");
    }
}

#[test]
fn a_child_never_holds_more_than_its_parent() {
    let rt = runtime(2);
    let boss_caps = Caps {
        spawn: ["worker".to_string()].into(),
        env: [("A".to_string(), "1".to_string())].into(),
        ..Caps::none()
    };
    let worker_caps = Caps {
        spawn: ["worker".to_string(), "secret".to_string()].into(),
        env: [("A".to_string(), "1".to_string()), ("B".to_string(), "2".to_string())].into(),
        inherit_stdout: true,
        ..Caps::none()
    };
    add(&rt, "boss", "spawner", boss_caps.clone(), Limits::default());
    add(&rt, "worker", "spawner", worker_caps, Limits::default());
    add(&rt, "secret", "echo", Caps::none(), Limits::default());
    let ep = rt.endpoint();
    let boss = rt.spawn("boss").unwrap();
    let ask = |pid, name: &str| -> i64 {
        assert!(ep.send(pid, 1, name.as_bytes(), ep.pid()));
        let m = ep.recv_tag(3, T).expect("an answer");
        i64::from_le_bytes(m.data[..8].try_into().unwrap())
    };
    let worker = ask(boss.pid(), "worker");
    assert!(worker > 0, "boss may spawn worker: {worker}");
    assert_eq!(ask(boss.pid(), "secret"), ward_nano::guest::errors::PERM as i64);
    assert_eq!(ask(boss.pid(), "nonexistent"), ward_nano::guest::errors::PERM as i64);
    // The worker's template asks for `secret`, B=2 and stdout; its parent holds none of them.
    let caps = rt.caps_of(worker as u64).unwrap();
    assert_eq!(caps.spawn, BTreeSet::from(["worker".to_string()]));
    assert_eq!(caps.env.len(), 1);
    assert!(!caps.inherit_stdout);
    assert!(caps.is_within(&boss_caps));
    assert_eq!(ask(worker as u64, "secret"), ward_nano::guest::errors::PERM as i64);
    assert!(ask(worker as u64, "worker") > 0);
    // A process spawned by the host with explicit caps gets no more than its template's.
    let wider = Caps { spawn: ["secret".to_string(), "boss".to_string()].into(), ..Caps::none() };
    let b2 =
        rt.spawn_with("boss", SpawnOptions { caps: Some(wider), ..Default::default() }).unwrap();
    assert!(rt.caps_of(b2.pid()).unwrap().spawn.is_empty());
}

#[test]
fn a_process_cannot_message_one_it_was_not_granted_until_handed_over() {
    let rt = runtime(2);
    add_plain(&rt, &["echo", "pinger"]);
    let ep = rt.endpoint();
    let echo = rt.spawn("echo").unwrap();
    // The echo answers its sender only once it holds the sender's handle.
    let other = rt.endpoint();
    assert!(other.send(echo.pid(), 0, b"x", 0));
    assert!(other.recv(Duration::from_millis(300)).is_none(), "no handle, no answer");
    assert!(ep.send(echo.pid(), 0, b"y", ep.pid()));
    assert_eq!(&*ep.recv(T).unwrap().data, b"y");
    // The pinger reaches the echo only through the handle carried by its start message.
    ping_pong(&rt, &ep, 10);
}

#[test]
fn supervisor_restarts_a_crashing_worker_then_gives_up() {
    let rt = runtime(2);
    add(&rt, "supervisor", "supervisor", spawns(&["crasher"]), Limits::default());
    add_plain(&rt, &["crasher"]);
    let ep = rt.endpoint();
    let sup = rt.spawn_with("supervisor", granted(&ep)).unwrap();
    assert!(ep.send(sup.pid(), 1, &[], 0));
    let mut seen = Vec::new();
    loop {
        let m = ep.recv(T).expect("a notice");
        let kind = i32s(&m.data[..4])[0];
        seen.push((m.tag, kind));
        if m.tag == 2 {
            break;
        }
    }
    // Three restarts (each after a trap: kind 2), then down for good.
    assert_eq!(seen, vec![(4, 2), (4, 2), (4, 2), (2, 2)]);
    assert_eq!(sup.wait(T), Some(ExitReason::Normal));
}

/// Starts a watcher on a fresh `ender` in `mode`, ends the ender with `code`, returns the
/// watcher's forwarded notice (tag, payload) and the watcher and ender handles.
fn watch(
    rt: &Runtime,
    ep: &Endpoint,
    mode: i32,
    code: i32,
) -> (Option<ward_nano::Message>, ward_nano::ProcHandle, ward_nano::ProcHandle) {
    let ender = rt.spawn("ender").unwrap();
    let watcher = rt.spawn_with("watcher", granted(ep)).unwrap();
    assert!(ep.send(watcher.pid(), 1, &mode.to_le_bytes(), ender.pid()));
    let ack = ep.recv_tag(3, T).expect("linked");
    assert_eq!(i32s(&ack.data), vec![0]);
    assert!(ep.send(ender.pid(), 1, &code.to_le_bytes(), 0));
    ender.wait(T).expect("the ender ended");
    let notice = ep.recv(Duration::from_secs(2));
    (notice, watcher, ender)
}

#[test]
fn monitors_and_links_deliver_exit_reasons() {
    let rt = runtime(2);
    add_plain(&rt, &["watcher", "ender"]);
    let ep = rt.endpoint();

    // Monitor: DOWN with the exit code.
    let (n, _, ender) = watch(&rt, &ep, 0, 5);
    let n = n.expect("DOWN");
    assert_eq!(n.tag, -tags::DOWN);
    assert_eq!(&i32s(&n.data[..8]), &[1, 5]);
    assert_eq!(u64::from_le_bytes(n.data[8..16].try_into().unwrap()), ender.pid());

    // Monitor: DOWN for a trap, with its message.
    let (n, _, _) = watch(&rt, &ep, 0, 255);
    let n = n.expect("DOWN");
    assert_eq!(i32s(&n.data[..4]), vec![2]);
    assert!(String::from_utf8_lossy(&n.data[16..]).contains("unreachable"));

    // Link without trapping exits: the watcher dies with the ender.
    let (n, watcher, ender) = watch(&rt, &ep, 1, 255);
    assert!(n.is_none());
    assert_eq!(watcher.wait(T), Some(ExitReason::Linked(ender.pid())));

    // Link, trapping exits: an EXIT message instead.
    let (n, watcher, _) = watch(&rt, &ep, 2, 3);
    let n = n.expect("EXIT");
    assert_eq!(n.tag, -tags::EXIT);
    assert_eq!(&i32s(&n.data[..8]), &[1, 3]);
    assert_eq!(watcher.wait(T), Some(ExitReason::Normal));

    // A normal exit does not kill a linked process.
    let (n, watcher, _) = watch(&rt, &ep, 1, 0);
    assert!(n.is_none());
    assert_eq!(watcher.exit_reason(), None);
}

#[test]
fn pipeline_of_three_stages() {
    let rt = runtime(2);
    add(&rt, "pipeline", "pipeline", spawns(&["stage"]), Limits::default());
    add_plain(&rt, &["stage"]);
    let ep = rt.endpoint();
    let p = rt.spawn_with("pipeline", granted(&ep)).unwrap();
    assert!(ep.send(p.pid(), 1, b"HAL", 0));
    let out = ep.recv_tag(3, T).expect("the pipeline's output");
    assert_eq!(&*out.data, b"KDO");
    assert_eq!(p.wait(T), Some(ExitReason::Normal));
    // Its stages ended with it.
    let deadline = Instant::now() + T;
    while rt.live_processes() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(rt.live_processes(), 0);
}

#[test]
fn receive_times_out_and_mailboxes_are_bounded() {
    let rt =
        Runtime::new(RuntimeConfig { workers: 1, max_mailbox_messages: 8, ..Default::default() })
            .unwrap();
    add_plain(&rt, &["ender"]);
    let ender = rt.spawn("ender").unwrap();
    assert!(rt.wait_idle(T));
    // It waits for tag 1; tag 0 messages pile up to the bound.
    let accepted = (0..100).filter(|_| rt.send(ender.pid(), 0, b"spam")).count();
    assert_eq!(accepted, 8);
    assert!(!rt.send(ender.pid(), 0, &vec![0u8; 1 << 20]));
    assert!(rt.send(ender.pid(), 1, &7i32.to_le_bytes()) || rt.live_processes() == 1);
}

#[test]
fn manifest_builds_an_application() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/app");
    let m = ward_nano::Manifest::from_file(&dir.join("app.toml")).unwrap();
    let rt = m.build(&dir).unwrap();
    let ep = rt.endpoint();
    let p = rt.spawn_with(&m.init.template, granted(&ep)).unwrap();
    assert!(ep.send(p.pid(), 1, b"abc", 0));
    assert_eq!(&*ep.recv_tag(3, T).unwrap().data, b"def");
    assert_eq!(p.wait(T), Some(ExitReason::Normal));
}

#[test]
fn selective_receive_with_timeout() {
    let rt = runtime(1);
    add_plain(&rt, &["pipeline", "stage"]);
    // `pipeline` without the right to spawn stages: its spawns fail, so its receive (tag 2,
    // 5 s timeout) times out and it reports -1 as the length of a zero-byte send... which is an
    // invalid length: the report fails and it ends normally after about 5 s.
    let ep = rt.endpoint();
    let p = rt.spawn_with("pipeline", granted(&ep)).unwrap();
    let start = Instant::now();
    assert!(ep.send(p.pid(), 1, b"x", 0));
    assert_eq!(p.wait(T), Some(ExitReason::Normal));
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(4900) && took < Duration::from_secs(8), "{took:?}");
    assert!(ep.recv(Duration::from_millis(100)).is_none());
}

/// With `instantiate_on_worker`, a process is instantiated by the worker that first runs it:
/// it runs like any other, and an instantiation that fails is its exit reason (and gives its
/// slot back), where the same spawn made eagerly is refused.
#[test]
fn a_process_instantiated_on_its_worker_runs_or_ends_with_the_instantiation_error() {
    let rt = runtime(2);
    add_plain(&rt, &["echo", "pinger"]);
    let big = ward::Module::new(rt.engine(), "(module (memory 64) (func (export \"main\")))");
    let tight = Limits { memory_bytes: 1 << 20, ..Limits::default() };
    rt.add_template(TemplateSpec::new("big", big.unwrap()).limits(tight)).unwrap();
    let ep = rt.endpoint();
    let lazily = || SpawnOptions { instantiate_on_worker: true, ..granted(&ep) };

    let eager = rt.spawn("big").map(|_| ()).unwrap_err().to_string();
    assert!(eager.contains("template `big`"), "{eager}");
    let live = rt.live_processes();
    let lazy = rt.spawn_with("big", lazily()).expect("checked later, on the worker");
    match lazy.wait(T) {
        Some(ExitReason::Error(why)) => assert!(why.contains("template `big`"), "{why}"),
        other => panic!("expected the instantiation error, got {other:?}"),
    }
    assert!(rt.wait_idle(T));
    assert_eq!(rt.live_processes(), live, "the failed process gave its slot back");

    let echo = rt.spawn_with("echo", lazily()).unwrap();
    let pinger = rt.spawn_with("pinger", lazily()).unwrap();
    assert!(ep.send(pinger.pid(), 1, &50u32.to_le_bytes(), echo.pid()));
    ep.recv_tag(3, T).expect("the pair made of lazily instantiated processes finished");
    assert_eq!(pinger.wait(T), Some(ExitReason::Normal));
    rt.kill(echo.pid());
}
