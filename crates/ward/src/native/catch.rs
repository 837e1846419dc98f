//! The catch table of a module's native code: for every call made inside a `try_table`, where
//! its handlers are and which exceptions each takes, for the unwinder (`unwind`).
//!
//! The translator makes such a call a Cranelift `try_call` whose exception table lists, after
//! the caller's context (so that the unwinder can read the instance's tags), a *marker* with the
//! number of `try_table`s around the call, then one item per catch clause, innermost
//! `try_table` first, in clause order. Each item's Cranelift tag is the index of an [`Entry`] of
//! the function, which says what the clause takes; Cranelift itself matches nothing. Compiling
//! gives, per call, the return address, the frame size and each item's handler offset; linking
//! makes them module-wide ([`CatchTable`]).

/// What one catch clause (or a marker) of a function stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    /// The call is inside `depth` `try_table`s (of its function).
    Marker { depth: u32 },
    /// A clause of the `try_table` at nesting `depth` (1: outermost in the function).
    Catch { kind: CatchKind, depth: u32 },
}

/// Which exceptions a catch clause takes and what it delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CatchKind {
    /// `catch tag` (module tag index): the payload.
    Tag(u32),
    /// `catch_ref tag`: the payload and the reference.
    TagRef(u32),
    /// `catch_all`: nothing.
    All,
    /// `catch_all_ref`: the reference.
    AllRef,
}

impl CatchKind {
    /// The module tag index the clause takes, or `None` for every exception.
    pub(super) fn tag(self) -> Option<u32> {
        match self {
            CatchKind::Tag(t) | CatchKind::TagRef(t) => Some(t),
            CatchKind::All | CatchKind::AllRef => None,
        }
    }
}

/// A call with handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Site {
    /// Offset of the call's return address.
    pub(super) ret: u32,
    /// From the frame pointer down to the stack pointer at the call (the handlers run with it).
    pub(super) frame: u32,
    /// Offset from that stack pointer of the slot holding the caller's context.
    pub(super) context: u32,
    /// `(entry index, handler offset)` of each item after the context, in table order.
    pub(super) handlers: Vec<(u32, u32)>,
}

/// A module's catch table: sites sorted by return address, entries indexed module-wide.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct CatchTable {
    pub(super) entries: Vec<Entry>,
    pub(super) sites: Vec<Site>,
}

const MARKER: u32 = 0;
const TAG: u32 = 1;
const TAG_REF: u32 = 2;
const ALL: u32 = 3;
const ALL_REF: u32 = 4;

impl CatchTable {
    /// The site whose return address is at `offset`, if that call has handlers.
    pub(super) fn site(&self, offset: u32) -> Option<&Site> {
        let i = self.sites.binary_search_by_key(&offset, |s| s.ret).ok()?;
        Some(&self.sites[i])
    }

    /// The table as 32-bit words (what an artifact stores): the entries (count, then kind,
    /// depth and tag of each), then the sites (count, then return address, frame size, context
    /// offset, handler count and `(entry, offset)` pairs of each).
    pub(super) fn encode(&self) -> Vec<u32> {
        let mut w = vec![self.entries.len() as u32];
        for e in &self.entries {
            let (kind, depth, tag) = match *e {
                Entry::Marker { depth } => (MARKER, depth, 0),
                Entry::Catch { kind, depth } => match kind {
                    CatchKind::Tag(t) => (TAG, depth, t),
                    CatchKind::TagRef(t) => (TAG_REF, depth, t),
                    CatchKind::All => (ALL, depth, 0),
                    CatchKind::AllRef => (ALL_REF, depth, 0),
                },
            };
            w.extend([kind, depth, tag]);
        }
        w.push(self.sites.len() as u32);
        for s in &self.sites {
            w.extend([s.ret, s.frame, s.context, s.handlers.len() as u32]);
            for (e, at) in &s.handlers {
                w.extend([*e, *at]);
            }
        }
        w
    }

    /// Reads a table [`encode`](Self::encode) wrote, checking that it is well formed for code
    /// of `len` bytes whose module has `tags` tags: sites in order, every offset inside the
    /// code, every entry index and tag index in range.
    pub(super) fn decode(words: &[u32], len: usize, tags: usize) -> Result<CatchTable, String> {
        let mut it = words.iter().copied();
        let mut next =
            |what: &str| it.next().ok_or_else(|| format!("its catch table ends in {what}"));
        let n = next("the entry count")? as usize;
        if n > words.len() {
            return Err("its catch table claims more entries than it holds".into());
        }
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let (kind, depth, tag) = (next("an entry")?, next("an entry")?, next("an entry")?);
            if (kind == TAG || kind == TAG_REF) && tag as usize >= tags {
                return Err(format!("its catch table names tag {tag} of {tags}"));
            }
            entries.push(match kind {
                MARKER => Entry::Marker { depth },
                TAG => Entry::Catch { kind: CatchKind::Tag(tag), depth },
                TAG_REF => Entry::Catch { kind: CatchKind::TagRef(tag), depth },
                ALL => Entry::Catch { kind: CatchKind::All, depth },
                ALL_REF => Entry::Catch { kind: CatchKind::AllRef, depth },
                other => return Err(format!("its catch table has an entry of kind {other}")),
            });
        }
        let n = next("the site count")? as usize;
        if n > words.len() {
            return Err("its catch table claims more sites than it holds".into());
        }
        let mut sites: Vec<Site> = Vec::with_capacity(n);
        for _ in 0..n {
            let (ret, frame, context) = (next("a site")?, next("a site")?, next("a site")?);
            let h = next("a site")? as usize;
            if h > words.len() {
                return Err("a catch site claims more handlers than the table holds".into());
            }
            let mut handlers = Vec::with_capacity(h);
            for _ in 0..h {
                let (e, at) = (next("a handler")?, next("a handler")?);
                if e as usize >= entries.len() || at as usize >= len {
                    return Err(format!("a catch handler ({e}, {at:#x}) is out of range"));
                }
                handlers.push((e, at));
            }
            if ret as usize > len || sites.last().is_some_and(|s| s.ret >= ret) {
                return Err(format!("a catch site at {ret:#x} is out of range or order"));
            }
            sites.push(Site { ret, frame, context, handlers });
        }
        if it.next().is_some() {
            return Err("its catch table has words after its end".into());
        }
        Ok(CatchTable { entries, sites })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> CatchTable {
        CatchTable {
            entries: vec![
                Entry::Marker { depth: 2 },
                Entry::Catch { kind: CatchKind::Tag(1), depth: 2 },
                Entry::Catch { kind: CatchKind::AllRef, depth: 1 },
                Entry::Catch { kind: CatchKind::TagRef(0), depth: 1 },
                Entry::Catch { kind: CatchKind::All, depth: 1 },
            ],
            sites: vec![
                Site { ret: 0x10, frame: 32, context: 8, handlers: vec![(0, 0x40), (1, 0x50)] },
                Site { ret: 0x20, frame: 48, context: 0, handlers: vec![(2, 0x60), (4, 0x70)] },
            ],
        }
    }

    #[test]
    fn encoding_round_trips_and_sites_are_found_by_return_address() {
        let t = table();
        let back = CatchTable::decode(&t.encode(), 0x100, 2).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.site(0x20).unwrap().frame, 48);
        assert!(back.site(0x18).is_none());
    }

    #[test]
    fn damaged_tables_are_refused() {
        let words = table().encode();
        for cut in 0..words.len() {
            assert!(CatchTable::decode(&words[..cut], 0x100, 2).is_err(), "cut at {cut}");
        }
        assert!(CatchTable::decode(&words, 0x60, 2).is_err(), "a handler past the code");
        assert!(CatchTable::decode(&words, 0x100, 1).is_err(), "a tag the module lacks");
        let mut bad = words.clone();
        bad[1] = 9;
        assert!(CatchTable::decode(&bad, 0x100, 2).is_err(), "an unknown entry kind");
        let mut extra = words;
        extra.push(0);
        assert!(CatchTable::decode(&extra, 0x100, 2).is_err(), "trailing words");
    }
}
