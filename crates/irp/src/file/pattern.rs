//! Name expressions of a directory query: `*` matches any run of bytes (also none), `?`
//! exactly one byte, anything else itself; case matters, as in POSIX. NT's
//! `FsRtlIsNameInExpression` without the DOS wildcards (`<`, `>`, `"`) and case folding.

/// Whether `name` matches `expression`.
#[doc(alias = "FsRtlIsNameInExpression")]
pub fn name_matches(expression: &[u8], name: &[u8]) -> bool {
    // Greedy match with one backtrack point (the last `*`): linear in practice, and
    // O(len(expression) * len(name)) at worst.
    let (mut e, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match expression.get(e) {
            Some(b'*') => {
                star = Some((e, n));
                e += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                e += 1;
                n += 1;
            }
            _ => match star {
                Some((se, sn)) => {
                    e = se + 1;
                    n = sn + 1;
                    star = Some((se, sn + 1));
                }
                None => return false,
            },
        }
    }
    expression[e..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks() {
        let m = |e: &str, n: &str| name_matches(e.as_bytes(), n.as_bytes());
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("*.txt", "a.txt") && !m("*.txt", "a.txt.bak"));
        assert!(m("a?c", "abc") && !m("a?c", "ac"));
        assert!(m("a*b*c", "aXXbYYc") && !m("a*b*c", "aXXbYY"));
        assert!(m("file", "file") && !m("file", "File"));
        assert!(m("**x", "x") && m("*x*", "abxcd"));
        assert!(!m("", "a") && m("", ""));
    }
}
