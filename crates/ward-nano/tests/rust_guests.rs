//! The example guests written in Rust on `ward-nano-guest` (`guest-rs/examples/*.rs`, built
//! into `examples/rust-guests/*.wasm` by `guest-rs/build.sh`), run from their manifests through
//! the public API with their output captured; and what `SpawnOptions` gives one process.

use std::path::{Path, PathBuf};
use std::time::Duration;
use ward_nano::{
    Caps, ExitReason, Manifest, RestartPolicy, Runtime, RuntimeConfig, SpawnOptions, TemplateSpec,
};
use ward_wasi::OutputPipe;

const T: Duration = Duration::from_secs(60);

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rust-guests")
}

/// Runs the application `NAME.toml` on `workers` threads, with every template's stdout
/// captured instead of inherited; returns how its initial process ended, what was printed, and
/// the processes still alive once it had ended and its tree was gone.
fn run_app(name: &str, workers: usize) -> (ExitReason, Vec<String>, usize) {
    let mut m = Manifest::from_file(&dir().join(format!("{name}.toml"))).unwrap();
    m.runtime.workers = Some(workers);
    let out = OutputPipe::new();
    let rt = m
        .build_with(&dir(), |mut spec| {
            spec.caps.inherit_stdout = false;
            spec.stdout(out.clone())
        })
        .unwrap();
    let init = rt.spawn(&m.init.template).unwrap();
    let reason = init.wait(T).expect("the initial process ended");
    let end = std::time::Instant::now() + T;
    while rt.live_processes() > 0 && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    let text = String::from_utf8(out.contents()).unwrap();
    (reason, text.lines().map(str::to_string).collect(), rt.live_processes())
}

/// The number after `prefix` in `line`, up to the next space or colon.
fn number_after(line: &str, prefix: &str) -> u64 {
    let rest = line.strip_prefix(prefix).unwrap_or_else(|| panic!("{line:?} after {prefix:?}"));
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("a number in {line:?}"))
}

#[test]
fn rust_ping_pong() {
    let (reason, out, live) = run_app("pingpong", 2);
    assert_eq!(reason, ExitReason::Normal, "{out:?}");
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out[0].starts_with("ping-pong: 1000 of 1000 answers right ("), "{out:?}");
    // The pong ended normally after the stop (its pid follows the ping's).
    assert!(out[1].starts_with("pong ") && out[1].ends_with(": Normal"), "{out:?}");
    assert_eq!(live, 0);
}

/// Runs the application `name` on two workers: it ends normally, having printed `expected`,
/// and no process outlives it.
fn assert_app_prints(name: &str, expected: &[&str]) {
    let (reason, out, live) = run_app(name, 2);
    assert_eq!(reason, ExitReason::Normal, "{out:?}");
    assert_eq!(out, expected);
    assert_eq!(live, 0);
}

#[test]
fn rust_pipeline_of_three_stages() {
    assert_app_prints(
        "pipeline",
        &["hello -> <OLLEH>", "ward -> <DRAW>", "nano -> <ONAN>", "stages ended normally: 3 of 3"],
    );
}

#[test]
fn rust_supervisor_restarts_a_crashing_worker_then_gives_up() {
    assert_app_prints(
        "supervisor",
        &[
            "job 2: answer 4",
            "job 3: answer 9",
            "job -2: restarted (trap: unreachable)",
            "job 4: answer 16",
            "job -1: restarted (exit 3)",
            "job 5: answer 25",
            "job -2: restarted (trap: unreachable)",
            "job 6: answer 36",
            "job -2: down (trap: unreachable)",
            "restarts: 3",
            "linked worker: answer 49, then exit (exit 3)",
        ],
    );
}

#[test]
fn rust_hostile_tenant_fails_at_everything_while_the_good_one_works() {
    // One worker: the hostile tenant's endless loop competes with everybody for it.
    let (reason, out, live) = run_app("tenants", 1);
    assert_eq!(reason, ExitReason::Normal, "{out:?}");
    assert_eq!(out.len(), 14, "{out:?}");
    let good = number_after(&out[0], "tenants: good ");
    let hostile = number_after(&out[0], &format!("tenants: good {good}, hostile "));
    let expected = [
        format!("hostile: send to the good tenant {good}: permission denied"),
        // 1..=1000 but itself and its parent, refused whether the pid exists or not.
        "hostile: sends to pids 1..=1000: 998 of 998 refused".to_string(),
        "hostile: forged DOWN notice: invalid argument".to_string(),
        "hostile: spawn good: permission denied".to_string(),
        "hostile: spawn host: permission denied".to_string(),
        "hostile: link to the good tenant: permission denied".to_string(),
        "hostile: monitor the good tenant: permission denied".to_string(),
        "hostile: memory.grow 1 GiB: refused".to_string(),
    ];
    assert_eq!(out[1..9], expected, "{out:?}");
    // Its allocator stopped at the 4 MiB limit (1 MiB chunks on top of Rust's 1 MiB stack).
    let mib = number_after(&out[9], "hostile: allocated ");
    assert!((1..=3).contains(&mib), "{out:?}");
    let kib =
        number_after(&out[9], &format!("hostile: allocated {mib} MiB, then refused; memory "));
    assert!(kib <= 4096, "{out:?}");
    assert_eq!(out[10], "hostile: 100 KiB message: message too big");
    assert_eq!(out[11], "good: 1000 of 1000 jobs answered right while the hostile tenant spun");
    assert_eq!(out[12], format!("hostile {hostile} ended: Deadline"));
    assert_eq!(out[13], format!("good {good} ended: Normal"));
    assert_eq!(live, 0);
}

fn env(pairs: &[(&str, &str)]) -> Caps {
    let env = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Caps { env, ..Caps::none() }
}

/// A runtime with `parent` and `child` templates of `envinfo.wasm`, each printing into its
/// own pipe: the parent may spawn the child and sees `SECRET=s` and `SHARED=1`; the child's
/// template asks for `SHARED=1`, `REQUEST=GET /` and `OTHER=x`.
fn envinfo() -> (Runtime, OutputPipe, OutputPipe) {
    let rt = Runtime::new(RuntimeConfig { workers: 1, ..Default::default() }).unwrap();
    let module = ward::Module::from_file(rt.engine(), dir().join("envinfo.wasm")).unwrap();
    let (parent_out, child_out) = (OutputPipe::new(), OutputPipe::new());
    let mut parent_caps = env(&[("SECRET", "s"), ("SHARED", "1")]);
    parent_caps.spawn.insert("child".into());
    let child_caps = env(&[("SHARED", "1"), ("REQUEST", "GET /"), ("OTHER", "x")]);
    let parent = TemplateSpec::new("parent", module.clone()).caps(parent_caps);
    rt.add_template(parent.stdout(parent_out.clone())).unwrap();
    let child = TemplateSpec::new("child", module).caps(child_caps);
    rt.add_template(child.stdout(child_out.clone())).unwrap();
    (rt, parent_out, child_out)
}

fn text(pipe: &OutputPipe) -> String {
    String::from_utf8(pipe.contents()).unwrap()
}

#[test]
fn spawn_options_give_one_process_args_env_and_stdin() {
    let (rt, parent_out, child_out) = envinfo();
    let opts = SpawnOptions {
        args: Some(vec!["envinfo".into(), "spawn".into(), "x y".into()]),
        env: vec![("REQUEST".into(), "GET /".into()), ("SHARED".into(), "2".into())],
        stdin: Some(b"request body".to_vec()),
        ..Default::default()
    };
    let p = rt.spawn_with("parent", opts).unwrap();
    assert_eq!(p.wait(T), Some(ExitReason::Normal));
    // The options' variables join the template's (SHARED replaced).
    assert_eq!(
        text(&parent_out),
        "args: envinfo spawn x y\nenv: REQUEST=GET /\nenv: SECRET=s\nenv: SHARED=2\n\
         stdin: request body\nchild: Some(Normal)\n"
    );
    // The child gets what its template asks for *and* its parent holds with the same value:
    // REQUEST, not SHARED (the parent's is 2), OTHER or SECRET; its template's arguments and
    // no stdin.
    assert_eq!(text(&child_out), "args: child\nenv: REQUEST=GET /\nstdin: \n");
}

/// A module whose process waits in `receive` until it is killed.
fn waiter(rt: &Runtime) -> ward::Module {
    ward::Module::new(
        rt.engine(),
        r#"(module
             (import "ward:nano" "receive" (func $r (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (func (export "main")
               (drop (call $r (i32.const 0) (i32.const 0) (i32.const -1) (i32.const -1)))))"#,
    )
    .unwrap()
}

/// Polls `fut` to completion on this thread (parking between wake-ups), the way an async host
/// (a server's executor) awaits a process.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    let end = std::time::Instant::now() + T;
    loop {
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        assert!(std::time::Instant::now() < end, "the future never became ready");
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

#[test]
fn each_spawn_can_have_its_own_stdout_and_be_awaited() {
    let (rt, parent_out, _) = envinfo();
    // Several processes of one template at once, each writing into its own pipe (as `ward
    // serve` gives each request's process), the template's pipe untouched.
    let runs: Vec<_> = (0..8)
        .map(|i| {
            let out = OutputPipe::new();
            let opts = SpawnOptions {
                env: vec![("REQUEST".into(), format!("GET /{i}"))],
                stdin: Some(format!("body {i}").into_bytes()),
                stdout: Some(out.clone()),
                ..Default::default()
            };
            (rt.spawn_with("parent", opts).unwrap(), out)
        })
        .collect();
    for (i, (p, out)) in runs.iter().enumerate() {
        assert_eq!(block_on(p.exited()), ExitReason::Normal);
        assert_eq!(
            text(out),
            format!("args: parent\nenv: REQUEST=GET /{i}\nenv: SECRET=s\nenv: SHARED=1\nstdin: body {i}\n")
        );
        // Ready at once for a process that has ended, as often as asked.
        assert_eq!(block_on(p.exited()), ExitReason::Normal);
    }
    assert_eq!(text(&parent_out), "");
    // A failing process reports how it ended.
    let opts =
        SpawnOptions { args: Some(vec!["envinfo".into(), "fail".into()]), ..Default::default() };
    let p = rt.spawn_with("parent", opts).unwrap();
    assert_eq!(block_on(p.exited()), ExitReason::Exit(1));
    // A process still waiting when the runtime goes away: the future does not hang.
    rt.add_template(TemplateSpec::new("waiter", waiter(&rt))).unwrap();
    let waiting = rt.spawn("waiter").unwrap();
    assert!(rt.wait_idle(T));
    assert_eq!(waiting.exit_reason(), None);
    let pending = waiting.exited();
    drop(rt);
    assert_eq!(block_on(pending), ExitReason::Killed("the runtime shut down".into()));
}

#[test]
fn without_spawn_options_a_process_gets_its_templates_args_and_env_and_no_stdin() {
    let (rt, parent_out, _) = envinfo();
    let p = rt.spawn("parent").unwrap();
    assert_eq!(p.wait(T), Some(ExitReason::Normal));
    assert_eq!(text(&parent_out), "args: parent\nenv: SECRET=s\nenv: SHARED=1\nstdin: \n");
}

#[test]
fn a_supervised_process_gets_its_spawn_options_again_at_each_restart() {
    let (rt, parent_out, _) = envinfo();
    let opts = SpawnOptions {
        args: Some(vec!["envinfo".into(), "fail".into()]),
        env: vec![("REQUEST".into(), "GET /".into())],
        stdin: Some(b"again".to_vec()),
        restart: Some(RestartPolicy { max_restarts: 1, window: Duration::from_secs(60) }),
        ..Default::default()
    };
    let p = rt.spawn_with("parent", opts).unwrap();
    assert_eq!(p.wait(T), Some(ExitReason::Exit(1)));
    let once =
        "args: envinfo fail\nenv: REQUEST=GET /\nenv: SECRET=s\nenv: SHARED=1\nstdin: again\n";
    assert_eq!(text(&parent_out), once.repeat(2), "the first run and one restart");
}

#[test]
fn spawn_options_env_is_in_the_processs_capabilities_and_checked() {
    let (rt, _, _) = envinfo();
    // A process that waits, so that its capabilities can be looked at while it lives.
    rt.add_template(TemplateSpec::new("waiter", waiter(&rt)).caps(env(&[("A", "1")]))).unwrap();
    let opts = SpawnOptions { env: vec![("B".into(), "2".into())], ..Default::default() };
    let p = rt.spawn_with("waiter", opts).unwrap();
    assert_eq!(rt.caps_of(p.pid()).unwrap().env, env(&[("A", "1"), ("B", "2")]).env);
    rt.kill(p.pid());
    for bad in [("", "v"), ("A=B", "v"), ("A\0", "v"), ("A", "v\0")] {
        let opts = SpawnOptions { env: vec![(bad.0.into(), bad.1.into())], ..Default::default() };
        let e = rt.spawn_with("waiter", opts).err().expect("refused");
        assert!(e.to_string().contains("environment variable"), "{e}");
    }
}
