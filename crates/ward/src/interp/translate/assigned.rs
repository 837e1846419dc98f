//! Which declared locals a function may read before it writes them: only those need zeroing
//! when a frame starts (the others are always written first, so whatever the slot held is never
//! seen).
//!
//! A forward "definitely assigned" analysis over the operators as the translator reads them, on
//! its own control stack (it sees the operators the translator skips as dead code too). The
//! state is the set of declared locals written on every path to the current point. A block's end
//! gets the intersection of the states of the branches to it and of its fall-through; an `if`
//! without `else` also the state at the `if`; a loop's body starts with the state at the loop
//! (a branch back only brings a larger set); a `try_table`'s catch clauses may be taken from
//! anywhere inside, so their labels get the state at the `try_table`. A `local.get` of a local
//! not in the state, in reachable code, marks it as read before written. Legacy `try` is not
//! modelled: a function that uses it zeroes every local, as does one with more than
//! [`MAX_TRACKED`] declared locals (the work per block is proportional to their number).

use wasmparser::Operator;

/// Functions with more declared locals than this zero all of them.
const MAX_TRACKED: u32 = 4096;

/// A set of declared locals (bit `i` is local `first + i`).
type Set = Vec<u64>;

fn intersect(into: &mut Option<Set>, with: &Set) {
    match into {
        Some(set) => set.iter_mut().zip(with).for_each(|(a, b)| *a &= b),
        None => *into = Some(with.clone()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Func,
    Block,
    Loop,
    If,
    Else,
}

struct Frame {
    kind: Kind,
    /// The state where the construct began (`None`: unreachable there).
    entry: Option<Set>,
    /// The intersection of the states that reach its end so far (`None`: none yet).
    end: Option<Set>,
}

/// The analysis of one function (see the module documentation).
pub(super) struct Assigned {
    /// The index of the first declared local (the number of parameters).
    first: u32,
    /// The number of declared locals.
    count: u32,
    /// Whether the analysis still holds (no legacy `try`, not too many locals).
    enabled: bool,
    /// The current state; `None` in unreachable code.
    state: Option<Set>,
    frames: Vec<Frame>,
    /// Declared locals read where they may not have been written.
    read_first: Set,
}

impl Assigned {
    /// The analysis of a function with `params` parameters and `count` declared locals.
    pub(super) fn new(params: u32, count: u32) -> Assigned {
        let enabled = count <= MAX_TRACKED;
        let words = if enabled { count.div_ceil(64) as usize } else { 0 };
        Assigned {
            first: params,
            count,
            enabled,
            state: Some(vec![0; words]),
            frames: vec![Frame { kind: Kind::Func, entry: None, end: None }],
            read_first: vec![0; words],
        }
    }

    /// Whether local `index` (of the function's whole local index space) must be zeroed when a
    /// frame starts. Call after the last operator.
    pub(super) fn needs_zero(&self, index: u32) -> bool {
        if index < self.first {
            return false;
        }
        let i = index - self.first;
        !self.enabled || self.read_first[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    /// The bit of local `index`, if it is a tracked declared local.
    fn bit(&self, index: u32) -> Option<(usize, u64)> {
        let i = index.checked_sub(self.first).filter(|i| *i < self.count)?;
        Some(((i / 64) as usize, 1 << (i % 64)))
    }

    /// A branch to label `depth` with the current state.
    fn branch(&mut self, depth: u32) {
        let Some(state) = &self.state else { return };
        let Some(at) = self.frames.len().checked_sub(1 + depth as usize) else { return };
        let frame = &mut self.frames[at];
        match frame.kind {
            // Back to the loop's start, whose state is the one at the loop (a subset).
            Kind::Loop => {}
            // Returns: nothing follows.
            Kind::Func => {}
            _ => intersect(&mut frame.end, state),
        }
    }

    fn push(&mut self, kind: Kind) {
        let entry = self.state.clone();
        self.frames.push(Frame { kind, entry, end: None });
    }

    /// Feeds the next operator of the body.
    pub(super) fn visit(&mut self, op: &Operator<'_>) {
        use Operator as O;
        if !self.enabled {
            return;
        }
        match op {
            O::Block { .. } => self.push(Kind::Block),
            O::Loop { .. } => self.push(Kind::Loop),
            O::If { .. } => self.push(Kind::If),
            O::TryTable { try_table } => {
                // A catch may be taken from any point inside, where the state has at least
                // what it has here; its label is counted from outside the `try_table`.
                for catch in &try_table.catches {
                    let label = match catch {
                        wasmparser::Catch::One { label, .. }
                        | wasmparser::Catch::OneRef { label, .. }
                        | wasmparser::Catch::All { label }
                        | wasmparser::Catch::AllRef { label } => *label,
                    };
                    self.branch(label);
                }
                self.push(Kind::Block);
            }
            O::Try { .. }
            | O::Catch { .. }
            | O::CatchAll
            | O::Delegate { .. }
            | O::Rethrow { .. } => {
                self.enabled = false;
            }
            O::Else => {
                let frame = self.frames.last_mut().expect("validated: else in an if");
                if let Some(state) = &self.state {
                    intersect(&mut frame.end, state);
                }
                frame.kind = Kind::Else;
                self.state = frame.entry.clone();
            }
            O::End => {
                let mut frame = self.frames.pop().expect("validated: balanced ends");
                if let Some(state) = &self.state {
                    intersect(&mut frame.end, state);
                }
                if frame.kind == Kind::If {
                    // The missing `else` falls through with the state at the `if`.
                    if let Some(entry) = &frame.entry {
                        intersect(&mut frame.end, entry);
                    }
                }
                self.state = frame.end;
                if self.frames.is_empty() {
                    // The function's end: keep a frame so that stray operators are harmless.
                    self.frames.push(Frame { kind: Kind::Func, entry: None, end: None });
                }
            }
            O::Br { relative_depth } => {
                self.branch(*relative_depth);
                self.state = None;
            }
            O::BrIf { relative_depth }
            | O::BrOnNull { relative_depth }
            | O::BrOnNonNull { relative_depth }
            | O::BrOnCast { relative_depth, .. }
            | O::BrOnCastFail { relative_depth, .. } => self.branch(*relative_depth),
            O::BrTable { targets } => {
                for depth in targets.targets().flatten() {
                    self.branch(depth);
                }
                self.branch(targets.default());
                self.state = None;
            }
            O::Return
            | O::Unreachable
            | O::Throw { .. }
            | O::ThrowRef
            | O::ReturnCall { .. }
            | O::ReturnCallIndirect { .. }
            | O::ReturnCallRef { .. } => self.state = None,
            O::LocalGet { local_index } => {
                if let (Some(state), Some((w, b))) = (&self.state, self.bit(*local_index)) {
                    if state[w] & b == 0 {
                        self.read_first[w] |= b;
                    }
                }
            }
            O::LocalSet { local_index } | O::LocalTee { local_index } => {
                if let Some((w, b)) = self.bit(*local_index) {
                    if let Some(state) = &mut self.state {
                        state[w] |= b;
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The locals (of 0..count declared after `params` parameters) that need zeroing in the
    /// first function of `wat`.
    fn zeroed(wat: &str, params: u32, count: u32) -> Vec<u32> {
        let bytes = wat::parse_str(wat).unwrap();
        let mut a = Assigned::new(params, count);
        for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
            if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut ops = body.get_operators_reader().unwrap();
                while !ops.eof() {
                    a.visit(&ops.read().unwrap());
                }
                break;
            }
        }
        (params..params + count).filter(|l| a.needs_zero(*l)).collect()
    }

    #[test]
    fn straight_line_writes_before_reads_need_no_zeroing() {
        let w = "(module (func (param i32) (local i32 i64)
                   (local.set 1 (local.get 0)) (local.set 2 (i64.const 1))
                   (drop (local.get 1)) (drop (local.get 2))))";
        assert_eq!(zeroed(w, 1, 2), Vec::<u32>::new());
    }

    #[test]
    fn a_read_before_the_write_needs_zeroing() {
        let w = "(module (func (local i32 i32)
                   (drop (local.get 0)) (local.set 0 (i32.const 1))
                   (local.set 1 (local.get 0))))";
        assert_eq!(zeroed(w, 0, 2), vec![0]);
    }

    #[test]
    fn a_write_on_one_path_only_is_not_enough() {
        // Written only in `then`; read after the `if` (no `else`), and after an if/else
        // that writes it in both arms (that one is fine).
        let w = "(module (func (param i32) (local i32 i32)
                   (if (local.get 0) (then (local.set 1 (i32.const 1))))
                   (drop (local.get 1))
                   (if (local.get 0) (then (local.set 2 (i32.const 1)))
                                     (else (local.set 2 (i32.const 2))))
                   (drop (local.get 2))))";
        assert_eq!(zeroed(w, 1, 2), vec![1]);
    }

    #[test]
    fn a_branch_out_before_the_write_reaches_the_block_end() {
        // `br_if` leaves the block before local 1 is written; local 2 is written before it.
        let w = "(module (func (param i32) (local i32 i32)
                   (block
                     (local.set 2 (i32.const 0))
                     (br_if 0 (local.get 0))
                     (local.set 1 (i32.const 1)))
                   (drop (local.get 1)) (drop (local.get 2))))";
        assert_eq!(zeroed(w, 1, 2), vec![1]);
    }

    #[test]
    fn a_loop_body_sees_only_what_was_written_before_the_loop() {
        // Local 1 is read at the top of the loop and written at its bottom: the first
        // iteration reads it unwritten.
        let w = "(module (func (param i32) (local i32)
                   (loop
                     (drop (local.get 1))
                     (local.set 1 (i32.const 1))
                     (br_if 0 (local.get 0)))))";
        assert_eq!(zeroed(w, 1, 1), vec![1]);
    }

    #[test]
    fn code_after_an_unconditional_branch_is_not_counted() {
        let w = "(module (func (local i32)
                   (block (br 0) (drop (local.get 0)))
                   (local.set 0 (i32.const 1))))";
        assert_eq!(zeroed(w, 0, 1), Vec::<u32>::new());
    }

    #[test]
    fn a_catch_label_gets_the_state_at_the_try_table() {
        // The throw can happen before local 1 is written; the catch lands after the block.
        let w = "(module (tag $e) (func $f (local i32)
                   (block $h
                     (try_table (catch_all $h)
                       (call $f)
                       (local.set 0 (i32.const 1))))
                   (drop (local.get 0))))";
        assert_eq!(zeroed(w, 0, 1), vec![0]);
    }

    #[test]
    fn legacy_try_zeroes_everything() {
        let w = "(module (func (local i32)
                   (local.set 0 (i32.const 1))
                   try
                   catch_all
                   end
                   (drop (local.get 0))))";
        assert_eq!(zeroed(w, 0, 1), vec![0]);
    }
}
