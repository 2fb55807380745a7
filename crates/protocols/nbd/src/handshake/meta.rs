//! Metadata contexts ("Metadata querying" in the spec): the names and query strings of
//! `NBD_OPT_LIST_META_CONTEXT` / `NBD_OPT_SET_META_CONTEXT`, and which of a server's
//! contexts a list of queries selects.
//!
//! A context name is `namespace:leaf`; the namespace is non-empty, printable, without
//! whitespace or colons. What a query means is up to its namespace; this module applies
//! the rules the spec sets for `base:` to every namespace the server knows:
//!
//! | query | `LIST` | `SET` |
//! |---|---|---|
//! | none at all | every context | nothing |
//! | `ns:` (empty leaf) | every context in `ns` | ignored |
//! | `ns:leaf`, a context the server has | that context | that context |
//! | `ns:leaf` otherwise (unknown leaf or namespace) | ignored | ignored |
//! | no colon, empty namespace | `NBD_REP_ERR_INVALID` | `NBD_REP_ERR_INVALID` |

use crate::ProtocolError;

/// Which option the queries came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaQueryMode {
    /// `NBD_OPT_LIST_META_CONTEXT`: what could be selected.
    #[doc(alias = "NBD_OPT_LIST_META_CONTEXT")]
    List,
    /// `NBD_OPT_SET_META_CONTEXT`: what is selected for `NBD_CMD_BLOCK_STATUS`.
    #[doc(alias = "NBD_OPT_SET_META_CONTEXT")]
    Set,
}

/// Splits a context name or query into `(namespace, leaf)`. Fails
/// ([`ProtocolError::InvalidOption`], answered `NBD_REP_ERR_INVALID`) without a colon,
/// with an empty namespace, or with whitespace or control characters in the namespace.
pub fn split_context_name(name: &str) -> Result<(&str, &str), ProtocolError> {
    let invalid = |why: &str| ProtocolError::InvalidOption(format!("metadata context query {name:?}: {why}"));
    let (namespace, leaf) = name.split_once(':').ok_or_else(|| invalid("no colon after a namespace"))?;
    if namespace.is_empty() {
        return Err(invalid("empty namespace"));
    }
    if namespace.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("the namespace must be printable, without whitespace"));
    }
    Ok((namespace, leaf))
}

/// The contexts of `supported` (the server's, each a valid `namespace:leaf` name) that
/// `queries` select (`Set`) or list (`List`), by the rules in the module documentation:
/// in `supported`'s order, each at most once. A malformed query fails the whole option.
pub fn select_meta_contexts<'a>(
    mode: MetaQueryMode,
    queries: &[String],
    supported: &[&'a str],
) -> Result<Vec<&'a str>, ProtocolError> {
    let mut chosen = vec![false; supported.len()];
    if queries.is_empty() && mode == MetaQueryMode::List {
        chosen.fill(true);
    }
    for query in queries {
        let (namespace, leaf) = split_context_name(query)?;
        for (i, context) in supported.iter().enumerate() {
            let in_namespace = split_context_name(context).is_ok_and(|(ns, _)| ns == namespace);
            let wildcard = leaf.is_empty() && mode == MetaQueryMode::List && in_namespace;
            if wildcard || (!leaf.is_empty() && *context == query.as_str()) {
                chosen[i] = true;
            }
        }
    }
    Ok(supported.iter().zip(chosen).filter(|(_, c)| *c).map(|(context, _)| *context).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::BASE_ALLOCATION;

    fn q(queries: &[&str]) -> Vec<String> {
        queries.iter().map(|s| (*s).to_owned()).collect()
    }

    const OURS: [&str; 1] = [BASE_ALLOCATION];

    #[test]
    fn list_and_set_follow_the_base_namespace_rules() {
        use MetaQueryMode::{List, Set};
        let select = |mode, queries: &[&str]| select_meta_contexts(mode, &q(queries), &OURS).unwrap();
        assert_eq!(select(List, &[]), [BASE_ALLOCATION], "no query lists everything");
        assert!(select(Set, &[]).is_empty(), "no query selects nothing");
        assert_eq!(select(List, &["base:"]), [BASE_ALLOCATION], "the base: wildcard lists");
        assert!(select(Set, &["base:"]).is_empty(), "the base: wildcard is ignored by SET");
        assert_eq!(select(Set, &["base:allocation"]), [BASE_ALLOCATION]);
        assert_eq!(select(List, &["base:allocation"]), [BASE_ALLOCATION]);
        assert_eq!(select(Set, &["base:allocation", "base:allocation"]), [BASE_ALLOCATION], "once");
        assert!(select(Set, &["base:other", "qemu:dirty-bitmap:x", "x-foo:"]).is_empty(), "unknown ignored");
        assert_eq!(select(Set, &["qemu:allocation-depth", "base:allocation"]), [BASE_ALLOCATION]);
        assert!(select(List, &["qemu:"]).is_empty(), "a wildcard of another namespace lists nothing");
    }

    #[test]
    fn malformed_queries_fail_the_option() {
        for bad in ["allocation", ":allocation", "ba se:allocation", "\u{7}:x", ""] {
            let e = select_meta_contexts(MetaQueryMode::Set, &q(&[bad]), &OURS).unwrap_err();
            assert!(matches!(e, ProtocolError::InvalidOption(_)), "{bad:?}: {e}");
            assert_eq!(e.option_reply_error(), Some(crate::consts::REP_ERR_INVALID));
        }
        assert_eq!(split_context_name("qemu:dirty-bitmap:x").unwrap(), ("qemu", "dirty-bitmap:x"));
    }
}
