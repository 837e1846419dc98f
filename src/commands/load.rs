//! Reading a module from a file or stdin, and saying what a file is when it is not a module
//! Ward can run.
//!
//! The kind is told from the first bytes: `\0asm` and a version (1 for a core module; a
//! component carries layer 1), or, for text, the first token after whitespace and comments
//! (`(module`, a module field such as `(func`, or `(component`). Text is translated here, so
//! that a syntax error names the file with its line and column.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// Where a module comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A file.
    File(PathBuf),
    /// Standard input (`-` on the command line).
    Stdin,
}

impl Source {
    /// `-` means stdin; anything else is a path.
    pub fn from_arg(arg: &std::ffi::OsStr) -> Source {
        if arg == "-" {
            Source::Stdin
        } else {
            Source::File(PathBuf::from(arg))
        }
    }

    /// How messages name it.
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".to_string(),
        }
    }

    /// The name the guest sees as `argv[0]`: the file's name without the host directories it
    /// is in (SECURITY.md: a guest learns nothing of the host's file system it was not given).
    pub fn argv0(&self) -> String {
        match self {
            Source::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "module".to_string()),
            Source::Stdin => "-".to_string(),
        }
    }

    /// All of its bytes.
    pub fn read(&self) -> anyhow::Result<Vec<u8>> {
        match self {
            Source::File(p) => {
                std::fs::read(p).with_context(|| format!("cannot read `{}`", p.display()))
            }
            Source::Stdin => {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .lock()
                    .read_to_end(&mut bytes)
                    .context("cannot read the module from standard input")?;
                Ok(bytes)
            }
        }
    }
}

/// The first bytes of a Ward ahead-of-time artifact (`ward compile`, `Module::serialize`).
const ARTIFACT_MAGIC: &[u8] = b"\0wardaot";

/// Whether `bytes` start like a Ward ahead-of-time artifact.
pub fn is_artifact(bytes: &[u8]) -> bool {
    bytes.starts_with(ARTIFACT_MAGIC)
}

/// Whether the file at `path` starts like a Ward ahead-of-time artifact (reads only its first
/// bytes; an unreadable file is not one, and reading it again reports the error).
pub fn file_is_artifact(path: &Path) -> bool {
    let mut head = [0u8; ARTIFACT_MAGIC.len()];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok()
        && is_artifact(&head)
}

/// What a file's first bytes say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A binary core module (version 1).
    CoreBinary,
    /// A binary component (or another layer of the binary format).
    ComponentBinary,
    /// A binary of a version Ward does not know.
    UnknownBinaryVersion(u32),
    /// Text whose first form is a module or a module field.
    CoreText,
    /// Text whose first form is a component.
    ComponentText,
    /// Nothing at all, or only whitespace and comments.
    Empty,
    /// Neither a binary nor text.
    Neither,
}

/// Tells what `bytes` are.
pub fn classify(bytes: &[u8]) -> Kind {
    if let Some(rest) = bytes.strip_prefix(b"\0asm") {
        return match rest {
            [_, _, 1, 0, ..] => Kind::ComponentBinary,
            [1, 0, 0, 0, ..] => Kind::CoreBinary,
            [a, b, c, d, ..] => Kind::UnknownBinaryVersion(u32::from_le_bytes([*a, *b, *c, *d])),
            // Truncated: let the decoder say so.
            _ => Kind::CoreBinary,
        };
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Kind::Neither;
    };
    let Some(rest) = skip_space_and_comments(text) else {
        return Kind::Neither;
    };
    let Some(form) = rest.strip_prefix('(') else {
        return if rest.is_empty() { Kind::Empty } else { Kind::Neither };
    };
    let keyword: String = skip_space_and_comments(form)
        .unwrap_or("")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@'))
        .collect();
    match keyword.as_str() {
        "component" => Kind::ComponentText,
        "module" | "type" | "rec" | "import" | "func" | "table" | "memory" | "global"
        | "export" | "start" | "elem" | "data" | "tag" => Kind::CoreText,
        // An annotation such as `(@custom ...)` may precede the fields.
        k if k.starts_with('@') => Kind::CoreText,
        _ => Kind::Neither,
    }
}

/// `text` after leading whitespace, `;;` line comments and `(; ;)` block comments (which nest);
/// `None` if a block comment is not closed.
fn skip_space_and_comments(mut text: &str) -> Option<&str> {
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix(";;") {
            text = rest.split_once('\n').map_or("", |(_, after)| after);
        } else if text.starts_with("(;") {
            let mut depth = 0usize;
            let mut i = 0;
            let b = text.as_bytes();
            loop {
                if b.get(i..i + 2) == Some(b"(;") {
                    depth += 1;
                    i += 2;
                } else if b.get(i..i + 2) == Some(b";)") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else if i >= b.len() {
                    return None;
                } else {
                    i += 1;
                }
            }
            text = &text[i..];
        } else {
            return Some(text);
        }
    }
}

/// The binary of the module at `source`, or an error that names the file and says what it is.
pub fn module_binary(source: &Source, bytes: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    let name = source.name();
    match classify(&bytes) {
        Kind::CoreBinary => Ok(bytes),
        Kind::CoreText => {
            let path = match source {
                Source::File(p) => Some(p.as_path()),
                Source::Stdin => Some(Path::new("<stdin>")),
            };
            let text = std::str::from_utf8(&bytes).expect("classified as text");
            let mut parser = wat::Parser::new();
            parser.generate_dwarf(wat::GenerateDwarf::Lines);
            match parser.parse_str(path, text) {
                Ok(binary) => Ok(binary),
                Err(e) => {
                    bail!("`{name}` is WebAssembly text with an error:\n{e}")
                }
            }
        }
        Kind::ComponentBinary | Kind::ComponentText => bail!(
            "`{name}` is a WebAssembly component, not a core module (`ward run` runs \
             components that are WASI 0.2 commands)"
        ),
        Kind::UnknownBinaryVersion(v) => bail!(
            "`{name}` is a WebAssembly binary of version {v}; Ward runs version 1 core modules"
        ),
        Kind::Empty => bail!("`{name}` is empty"),
        Kind::Neither if is_artifact(&bytes) => bail!(
            "`{name}` is a Ward ahead-of-time artifact, which runs from a file only (`ward run \
             FILE.cwasm`)"
        ),
        Kind::Neither => bail!("`{name}` is neither a WebAssembly binary nor text"),
    }
}

/// Whether `bytes` are a component (binary or text), which `ward run` runs as a WASI 0.2
/// command.
pub fn is_component(bytes: &[u8]) -> bool {
    matches!(classify(bytes), Kind::ComponentBinary | Kind::ComponentText)
}

/// The binary of the component at `source` (text is translated, its errors shown with file,
/// line and column).
pub fn component_binary(source: &Source, bytes: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    let name = source.name();
    match classify(&bytes) {
        Kind::ComponentBinary => Ok(bytes),
        Kind::ComponentText => {
            let path = match source {
                Source::File(p) => p.as_path(),
                Source::Stdin => Path::new("<stdin>"),
            };
            let text = std::str::from_utf8(&bytes).expect("classified as text");
            wat::Parser::new()
                .parse_str(Some(path), text)
                .map_err(|e| anyhow::anyhow!("`{name}` is WebAssembly text with an error:\n{e}"))
        }
        _ => module_binary(source, bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(classify(b"\0asm\x01\0\0\0"), Kind::CoreBinary);
        assert_eq!(classify(b"\0asm\x0d\0\x01\0"), Kind::ComponentBinary);
        assert_eq!(classify(b"\0asm\x02\0\0\0"), Kind::UnknownBinaryVersion(2));
        assert_eq!(classify(b"(module)"), Kind::CoreText);
        assert_eq!(classify(b" ;; hi\n (; a (; b ;) ;) (func)"), Kind::CoreText);
        assert_eq!(classify(b"(component)"), Kind::ComponentText);
        assert_eq!(classify(b""), Kind::Empty);
        assert_eq!(classify(b"  \n;; only a comment\n"), Kind::Empty);
        assert_eq!(classify(b"this is not a module"), Kind::Neither);
        assert_eq!(classify(b"(hello world)"), Kind::Neither);
        assert_eq!(classify(b"(; never closed"), Kind::Neither);
        assert_eq!(classify(&[0xff, 0xfe, 0]), Kind::Neither);
        assert!(is_component(b"\0asm\x0d\0\x01\0"));
        assert!(is_component(b"(component)"));
        assert!(!is_component(b"(module)"));
        assert!(is_artifact(b"\0wardaot\x01\0\0\0"));
        assert!(!is_artifact(b"\0asm\x01\0\0\0"));
    }

    #[test]
    fn argv0_has_no_directories() {
        assert_eq!(Source::File("/home/me/secret/prog.wasm".into()).argv0(), "prog.wasm");
        assert_eq!(Source::from_arg("-".as_ref()), Source::Stdin);
    }
}
