//! Paths inside the volume, for the commands that change it: a parent and a last name, a
//! name joined to a directory, whether a path is a directory ("into it" for put, mv, ln).

use irp::file::{CreateOptions, FileKind};
use irp::{Access, IoManager, Status};

use super::{failed, open, status_of};

/// `path` without trailing slashes ("/" stays "/").
pub fn trimmed(path: &str) -> &str {
    let t = path.trim_end_matches('/');
    if t.is_empty() && path.starts_with('/') { "/" } else { t }
}

/// The directory holding `path` and its last name (`/a/b` → `/a`, `b`; `b` → `/`, `b`).
pub fn split(path: &str) -> anyhow::Result<(String, String)> {
    let t = trimmed(path);
    let (dir, name) = match t.rsplit_once('/') {
        Some((dir, name)) => (if dir.is_empty() { "/" } else { dir }, name),
        None => ("/", t),
    };
    if name.is_empty() || name == "/" || name == "." || name == ".." {
        anyhow::bail!("{path}: not a name that can be made or removed");
    }
    Ok((dir.to_owned(), name.to_owned()))
}

/// `name` in directory `dir`.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') { format!("{dir}{name}") } else { format!("{dir}/{name}") }
}

/// The last name of a host or volume path.
pub fn basename(path: &str) -> &str {
    trimmed(path).rsplit('/').next().unwrap_or(path)
}

/// Whether `path` is a directory (following symbolic links); a missing path is not.
pub fn is_dir(io: &IoManager, path: &str) -> anyhow::Result<bool> {
    match open(io, path, Access::READ_ATTRIBUTES, CreateOptions::NONE) {
        Ok(h) => Ok(h.query_stat().map_err(|s| failed(path, s))?.kind() == FileKind::Directory),
        Err(e) if is_missing(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether an error says the name does not exist.
pub fn is_missing(e: &anyhow::Error) -> bool {
    matches!(status_of(e), Some(Status::OBJECT_NAME_NOT_FOUND | Status::OBJECT_PATH_NOT_FOUND))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_names_and_joins() {
        assert_eq!(split("/a/b/").unwrap(), ("/a".to_owned(), "b".to_owned()));
        assert_eq!(split("b").unwrap(), ("/".to_owned(), "b".to_owned()));
        assert_eq!(split("/b").unwrap(), ("/".to_owned(), "b".to_owned()));
        assert!(split("/").is_err() && split("/a/..").is_err());
        assert_eq!(join("/", "x"), "/x");
        assert_eq!(join("/d", "x"), "/d/x");
        assert_eq!(basename("dir/file.txt"), "file.txt");
        assert_eq!(trimmed("/"), "/");
    }
}
