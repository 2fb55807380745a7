//! File-system workloads: steps that change the tree (ACE's operations) and persistence
//! calls, with a one-line text form that names a workload exactly (for reproducers):
//! steps separated by `;`, each a verb and its arguments, paths relative to the root
//! (`.` is the root itself):
//!
//! ```text
//! create A/new; write A/new 0 8192; fsync A/new; fsyncdir A
//! ```

use std::fmt;

/// A path below the root, `/`-separated (`.` is the root).
pub type Path = String;

/// An operation that changes the tree (the ACE set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `create P`: a new empty regular file.
    Create(Path),
    /// `mkdir P`: a new directory.
    Mkdir(Path),
    /// `write P OFF LEN`: `LEN` bytes at `OFF` (past the end: the file grows, sparsely).
    Write(Path, u64, u64),
    /// `overwrite P OFF LEN`: a write meant to land inside the file's current size.
    Overwrite(Path, u64, u64),
    /// `append P LEN`: `LEN` bytes at the end.
    Append(Path, u64),
    /// `truncate P SIZE`: sets the size (shrinks, or grows sparsely).
    Truncate(Path, u64),
    /// `fallocate P OFF LEN [keep]`: preallocates; the size grows unless `keep`.
    Fallocate(Path, u64, u64, bool),
    /// `link P Q`: a second name `Q` for `P`.
    Link(Path, Path),
    /// `unlink P`: removes a non-directory name.
    Unlink(Path),
    /// `rename P Q`: moves `P` to `Q`, replacing what `Q` names.
    Rename(Path, Path),
    /// `symlink P TARGET`: a symbolic link `P` pointing at `TARGET`.
    Symlink(Path, String),
    /// `setxattr P NAME LEN`: sets extended attribute `NAME` to `LEN` bytes.
    SetXattr(Path, String, u64),
    /// `removexattr P NAME`.
    RemoveXattr(Path, String),
}

/// A persistence call: what a completed one covers must survive a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Persist {
    /// `fsync P`: the file's data and metadata, its name included.
    Fsync(Path),
    /// `fdatasync P`: the file's data and what reading it back needs (size, allocation).
    Fdatasync(Path),
    /// `fsyncdir P`: the directory's entries.
    FsyncDir(Path),
    /// `sync`: everything (a volume flush, syncfs).
    Sync,
}

/// One step of a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Changes the tree.
    Op(Op),
    /// Makes something durable.
    Persist(Persist),
}

/// A named sequence of steps, run on the starting tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// A short name (`ace1/append+fsync`, `random seed 3`, `given`).
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// A seeded random history's seed and length (its reproducer names these, not the
    /// steps).
    pub random: Option<(u64, usize)>,
}

/// A workload text that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("workload step {index} `{step}`: {why}")]
pub struct WorkloadError {
    /// Which step (from 1).
    pub index: usize,
    /// Its text.
    pub step: String,
    /// What is wrong with it.
    pub why: String,
}

impl Workload {
    /// Parses the text form (see the module documentation).
    pub fn parse(name: &str, text: &str) -> Result<Workload, WorkloadError> {
        let mut steps = Vec::new();
        for (i, part) in text.split(';').enumerate() {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let fail = |why: String| WorkloadError { index: i + 1, step: part.to_string(), why };
            steps.push(parse_step(part).map_err(fail)?);
        }
        if steps.is_empty() {
            return Err(WorkloadError { index: 0, step: text.to_string(), why: "no steps".into() });
        }
        Ok(Workload { name: name.to_string(), steps, random: None })
    }

    /// The text form, which [`Workload::parse`] reads back.
    pub fn text(&self) -> String {
        self.steps.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    }
}

fn check_path(p: &str) -> Result<Path, String> {
    let ok = p == "."
        || (!p.starts_with('/')
            && !p.ends_with('/')
            && !p.contains(['\'', '"', '\\'])
            && p.split('/').all(|c| !c.is_empty() && c != "." && c != ".." && c.len() <= 255));
    if ok { Ok(p.to_string()) } else { Err(format!("`{p}` is not a path below the root (like A/foo, or .)")) }
}

fn number(s: &str) -> Result<u64, String> {
    let v: u64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v > 1 << 26 { Err(format!("{v} is larger than the checker's limit of 64 MiB")) } else { Ok(v) }
}

fn xattr_name(s: &str) -> Result<String, String> {
    if s.starts_with("user.") && s.len() > 5 && s.len() <= 200 {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` is not a user.* attribute name"))
    }
}

fn parse_step(text: &str) -> Result<Step, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let (verb, args) = (words[0], &words[1..]);
    let want = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("`{verb}` takes {n} argument(s), not {}", args.len()))
        }
    };
    let op = |o: Op| Ok(Step::Op(o));
    match verb {
        "create" => want(1).and_then(|()| op(Op::Create(check_path(args[0])?))),
        "mkdir" => want(1).and_then(|()| op(Op::Mkdir(check_path(args[0])?))),
        "write" | "overwrite" => want(3).and_then(|()| {
            let (p, off, len) = (check_path(args[0])?, number(args[1])?, number(args[2])?);
            if len == 0 {
                return Err("a write of 0 bytes".into());
            }
            op(if verb == "write" { Op::Write(p, off, len) } else { Op::Overwrite(p, off, len) })
        }),
        "append" => want(2).and_then(|()| op(Op::Append(check_path(args[0])?, number(args[1])?))),
        "truncate" => want(2).and_then(|()| op(Op::Truncate(check_path(args[0])?, number(args[1])?))),
        "fallocate" => {
            let keep = match args.get(3) {
                None => false,
                Some(&"keep") => true,
                Some(w) => return Err(format!("`{w}`: fallocate's fourth word can only be `keep`")),
            };
            if args.len() < 3 || args.len() > 4 {
                return Err("`fallocate` takes P OFF LEN [keep]".into());
            }
            let (p, off, len) = (check_path(args[0])?, number(args[1])?, number(args[2])?);
            if len == 0 {
                return Err("a fallocate of 0 bytes".into());
            }
            op(Op::Fallocate(p, off, len, keep))
        }
        "link" => want(2).and_then(|()| op(Op::Link(check_path(args[0])?, check_path(args[1])?))),
        "unlink" => want(1).and_then(|()| op(Op::Unlink(check_path(args[0])?))),
        "rename" => want(2).and_then(|()| op(Op::Rename(check_path(args[0])?, check_path(args[1])?))),
        "symlink" => want(2).and_then(|()| {
            if args[1].len() >= 4096 || args[1].contains(['\'', '"', '\\']) {
                return Err("a symlink target of 4096 bytes or more, or with a quote or backslash".into());
            }
            op(Op::Symlink(check_path(args[0])?, args[1].to_string()))
        }),
        "setxattr" => want(3).and_then(|()| {
            let len = number(args[2])?;
            if len > 3000 {
                return Err("an attribute value over 3000 bytes".into());
            }
            op(Op::SetXattr(check_path(args[0])?, xattr_name(args[1])?, len))
        }),
        "removexattr" => {
            want(2).and_then(|()| op(Op::RemoveXattr(check_path(args[0])?, xattr_name(args[1])?)))
        }
        "fsync" => want(1).and_then(|()| Ok(Step::Persist(Persist::Fsync(check_path(args[0])?)))),
        "fdatasync" => want(1).and_then(|()| Ok(Step::Persist(Persist::Fdatasync(check_path(args[0])?)))),
        "fsyncdir" => want(1).and_then(|()| Ok(Step::Persist(Persist::FsyncDir(check_path(args[0])?)))),
        "sync" => want(0).map(|()| Step::Persist(Persist::Sync)),
        _ => Err(format!(
            "unknown verb `{verb}` (create mkdir write overwrite append truncate fallocate link unlink \
             rename symlink setxattr removexattr fsync fdatasync fsyncdir sync)"
        )),
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Create(p) => write!(f, "create {p}"),
            Op::Mkdir(p) => write!(f, "mkdir {p}"),
            Op::Write(p, o, l) => write!(f, "write {p} {o} {l}"),
            Op::Overwrite(p, o, l) => write!(f, "overwrite {p} {o} {l}"),
            Op::Append(p, l) => write!(f, "append {p} {l}"),
            Op::Truncate(p, s) => write!(f, "truncate {p} {s}"),
            Op::Fallocate(p, o, l, keep) => {
                write!(f, "fallocate {p} {o} {l}{}", if *keep { " keep" } else { "" })
            }
            Op::Link(a, b) => write!(f, "link {a} {b}"),
            Op::Unlink(p) => write!(f, "unlink {p}"),
            Op::Rename(a, b) => write!(f, "rename {a} {b}"),
            Op::Symlink(p, t) => write!(f, "symlink {p} {t}"),
            Op::SetXattr(p, n, l) => write!(f, "setxattr {p} {n} {l}"),
            Op::RemoveXattr(p, n) => write!(f, "removexattr {p} {n}"),
        }
    }
}

impl fmt::Display for Persist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Persist::Fsync(p) => write!(f, "fsync {p}"),
            Persist::Fdatasync(p) => write!(f, "fdatasync {p}"),
            Persist::FsyncDir(p) => write!(f, "fsyncdir {p}"),
            Persist::Sync => f.write_str("sync"),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Op(o) => o.fmt(f),
            Step::Persist(p) => p.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_reads_back() {
        let text = "create A/new; write A/new 0 8192; fallocate A/new 8192 4096 keep; link A/new B/l; \
                    setxattr A/new user.k 12; fsync A/new; fdatasync B/l; fsyncdir .; sync";
        let w = Workload::parse("t", text).unwrap();
        assert_eq!(w.steps.len(), 9);
        assert_eq!(Workload::parse("t", &w.text()).unwrap(), w);
    }

    #[test]
    fn bad_steps_say_which_and_why() {
        let e = Workload::parse("t", "create A/x; frobnicate A").unwrap_err();
        assert_eq!(e.index, 2);
        assert!(e.why.contains("unknown verb"), "{e}");
        assert!(Workload::parse("t", "create /abs").unwrap_err().why.contains("below the root"));
        assert!(Workload::parse("t", "write A/x 0").unwrap_err().why.contains("3 argument"));
        assert!(Workload::parse("t", "setxattr A/x trusted.k 3").is_err());
        assert!(Workload::parse("t", " ; ").is_err());
    }
}
