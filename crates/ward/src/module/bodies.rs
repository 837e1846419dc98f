//! Validation of a module's function bodies, on several threads when the code section is large.
//!
//! Each body is validated on its own (wasmparser's `FuncToValidate` carries everything it needs
//! from the module), so the bodies can be split into contiguous runs validated in parallel. The
//! error reported is the one of the lowest-numbered invalid body, as if they had been validated
//! in order, so the result never depends on the number of threads or on timing.

use wasmparser::{
    BinaryReaderError, FuncToValidate, FuncValidatorAllocations, FunctionBody, ValidatorResources,
};

/// Code sections smaller than this are validated on the calling thread: starting threads
/// costs more than it saves.
const PARALLEL_MIN_BYTES: usize = 4 << 20;

/// At most this many threads validate one module.
const MAX_THREADS: usize = 8;

pub(super) type Pending<'a> = Vec<(FuncToValidate<ValidatorResources>, FunctionBody<'a>)>;

/// Validates `bodies`; the error, if any, is the first body's in order.
pub(super) fn validate(bodies: Pending<'_>) -> Result<(), BinaryReaderError> {
    let bytes: usize = bodies.iter().map(|(_, b)| body_len(b)).sum();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS);
    if bytes < PARALLEL_MIN_BYTES || threads < 2 || bodies.len() < 2 {
        return validate_run(bodies).map_err(|(_, e)| e);
    }
    let runs = split(bodies, threads, bytes);
    let first_error = std::thread::scope(|scope| {
        let mut runs = runs.into_iter();
        let mine = runs.next().expect("split returns at least one run");
        let others: Vec<_> = runs.map(|run| scope.spawn(move || validate_run(run))).collect();
        let mut errors = Vec::new();
        if let Err(e) = validate_run(mine) {
            errors.push(e);
        }
        for handle in others {
            match handle.join() {
                Ok(Err(e)) => errors.push(e),
                Ok(Ok(())) => {}
                // A panic in the validator is a bug; let it surface as it would on this thread.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        errors.into_iter().min_by_key(|(index, _)| *index)
    });
    match first_error {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// Validates a run of bodies in order, reusing one set of allocations; on error, returns the
/// failing body's function index with the error.
fn validate_run(run: Pending<'_>) -> Result<(), (u32, BinaryReaderError)> {
    let mut allocs = FuncValidatorAllocations::default();
    for (func, body) in run {
        let index = func.index;
        let mut validator = func.into_validator(allocs);
        validator.validate(&body).map_err(|e| (index, e))?;
        allocs = validator.into_allocations();
    }
    Ok(())
}

/// Splits `bodies` (of `bytes` bytes in all) into at most `n` contiguous runs of about equal
/// size, in order.
fn split(bodies: Pending<'_>, n: usize, bytes: usize) -> Vec<Pending<'_>> {
    let share = bytes.div_ceil(n);
    let mut runs = vec![Vec::new()];
    let mut size = 0;
    for item in bodies {
        let len = body_len(&item.1);
        if size >= share && runs.len() < n {
            runs.push(Vec::new());
            size = 0;
        }
        size += len;
        runs.last_mut().expect("never empty").push(item);
    }
    runs
}

fn body_len(body: &FunctionBody<'_>) -> usize {
    let range = body.range();
    (range.end - range.start) as usize
}

#[cfg(test)]
mod tests {
    use super::PARALLEL_MIN_BYTES;
    use crate::{Engine, Error, Module};

    fn leb(v: usize, out: &mut Vec<u8>) {
        crate::module::leb::write_u32(out, u32::try_from(v).unwrap());
    }

    fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(body.len(), out);
        out.extend_from_slice(body);
    }

    /// A module of `n` functions `() -> ()`, each `i32.const 0; drop` repeated `k` times, except
    /// that the functions in `bad` start with a `drop` of nothing. Returns the module and the
    /// byte range of each body.
    fn module(n: usize, k: usize, bad: &[usize]) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        section(1, &[1, 0x60, 0, 0], &mut m);
        let mut funcs = Vec::new();
        leb(n, &mut funcs);
        funcs.extend(std::iter::repeat_n(0u8, n));
        section(3, &funcs, &mut m);
        let mut code = Vec::new();
        leb(n, &mut code);
        let mut ranges = Vec::new();
        for f in 0..n {
            let mut body = vec![0u8]; // no locals
            if bad.contains(&f) {
                body.push(0x1a);
            }
            for _ in 0..k {
                body.extend_from_slice(&[0x41, 0x00, 0x1a]);
            }
            body.push(0x0b);
            leb(body.len(), &mut code);
            ranges.push(code.len()..code.len() + body.len());
            code.extend_from_slice(&body);
        }
        let code_start = m.len() + 1 + {
            let mut len = Vec::new();
            leb(code.len(), &mut len);
            len.len()
        };
        section(10, &code, &mut m);
        let ranges = ranges.into_iter().map(|r| r.start + code_start..r.end + code_start).collect();
        (m, ranges)
    }

    #[test]
    fn a_large_code_section_is_validated_in_full() {
        // About 6 MiB of code: above the parallel threshold.
        let (m, _) = module(2_000, 1_000, &[]);
        assert!(m.len() > PARALLEL_MIN_BYTES);
        Module::new(&Engine::default(), &m).unwrap();
    }

    #[test]
    fn the_first_invalid_body_is_the_one_reported() {
        for bad in [[5, 1_900], [1_000, 1_999], [1_999, 1_999]] {
            let (m, ranges) = module(2_000, 1_000, &bad);
            assert!(m.len() > PARALLEL_MIN_BYTES);
            let err = Module::new(&Engine::default(), &m).unwrap_err();
            let Error::Invalid { message, offset } = err else { panic!("{err}") };
            assert!(message.contains("type mismatch"), "{message}");
            assert!(ranges[bad[0]].contains(&offset), "{bad:?}: offset {offset}");
            // The same module with a small code section (validated in order) agrees.
            let (small, small_ranges) = module(2_000, 1, &bad);
            let Error::Invalid { message: m2, offset: o2 } =
                Module::new(&Engine::default(), &small).unwrap_err()
            else {
                panic!()
            };
            assert_eq!(message, m2);
            assert!(small_ranges[bad[0]].contains(&o2));
        }
    }
}
