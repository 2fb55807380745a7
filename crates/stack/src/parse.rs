//! The spec-string parser: a hand-written recursive descent over `char`s, with byte
//! spans for every error. It never panics, whatever the input (see the fuzz test).

use super::error::{SpecError, SpecErrorKind};
use super::{LayerSpec, Params, Span, StackSpec, is_valid_name};

/// Parses a whole spec; errors carry `text` for their caret line.
pub(super) fn parse(text: &str) -> Result<StackSpec, SpecError> {
    let mut parser = Parser { text, pos: 0 };
    parser.spec().map_err(|e| e.with_text(text))
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

/// Characters read as part of a name, so that `Cache` or `v1.2` are reported whole.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

fn unclosed(open: Span, layer: &str) -> SpecError {
    SpecError::syntax(format!("unclosed `(` in layer `{layer}`")).at(open).with_help("add the missing `)`")
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// The span of the next character (empty at the end).
    fn here(&self) -> Span {
        (self.pos, self.pos + self.peek().map_or(0, char::len_utf8))
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        &self.text[start..self.pos]
    }

    fn unexpected(&self, expected: &str) -> SpecError {
        let found = match self.peek() {
            Some(c) => format!("`{c}`"),
            None => "the end of the spec".to_owned(),
        };
        SpecError::syntax(format!("expected {expected}, found {found}")).at(self.here())
    }

    fn spec(&mut self) -> Result<StackSpec, SpecError> {
        self.skip_ws();
        if self.peek().is_none() {
            return Err(SpecError::new(SpecErrorKind::Empty).at((0, self.text.len())));
        }
        let mut layers: Vec<LayerSpec> = Vec::new();
        let mut last_slash = (0, 0);
        loop {
            self.skip_ws();
            match self.peek() {
                Some('/') => {
                    return Err(SpecError::syntax("empty layer: expected a driver name before `/`")
                        .at(self.here())
                        .with_help("layers are separated by a single `/`"));
                }
                None => {
                    return Err(SpecError::syntax("empty layer: expected a driver name after the last `/`")
                        .at(last_slash)
                        .with_help("remove the trailing `/` or add the disk below it"));
                }
                Some(_) => layers.push(self.layer()?),
            }
            self.skip_ws();
            match self.peek() {
                None => return Ok(StackSpec::with_source(layers, self.text)),
                Some('/') => {
                    last_slash = self.here();
                    self.bump();
                }
                Some(')') => return Err(SpecError::syntax("unmatched `)`").at(self.here())),
                Some(_) => return Err(self.junk_after(layers.last().map_or("", |l| l.driver.as_str()))),
            }
        }
    }

    fn junk_after(&mut self, layer: &str) -> SpecError {
        let start = self.pos;
        let junk = self.take_while(|c| !c.is_whitespace() && c != '/');
        let error = SpecError::syntax(format!(
            "unexpected `{junk}` after layer `{layer}`: expected `/` or the end of the spec"
        ))
        .at((start, self.pos));
        if junk.contains('=') {
            error.with_help(format!("parameters go in parentheses: `{layer}({junk})`"))
        } else {
            error.with_help("separate layers with `/`")
        }
    }

    /// Checks a name read with [`is_word`].
    fn check_name(name: &str, span: Span, what: &str) -> Result<(), SpecError> {
        if is_valid_name(name) {
            return Ok(());
        }
        let error =
            SpecError::syntax(format!("invalid {what} `{name}`: use lowercase letters, digits, `_` and `-`"))
                .at(span);
        let lower = name.to_lowercase();
        Err(if is_valid_name(&lower) { error.with_help(format!("did you mean `{lower}`?")) } else { error })
    }

    fn layer(&mut self) -> Result<LayerSpec, SpecError> {
        let start = self.pos;
        let name = self.take_while(is_word);
        if name.is_empty() {
            return Err(match self.peek() {
                Some('(') => SpecError::syntax("expected a driver name before `(`").at(self.here()),
                Some(')') => SpecError::syntax("unmatched `)`").at(self.here()),
                _ => self.unexpected("a driver name"),
            });
        }
        let name_span = (start, self.pos);
        Parser::check_name(name, name_span, "driver name")?;
        self.skip_ws();
        let mut params = Params::new();
        params.set_layer(name);
        let end = if self.peek() == Some('(') {
            self.params(&mut params, name)?;
            self.pos
        } else {
            name_span.1
        };
        Ok(LayerSpec::parsed(name, params, (start, end), name_span))
    }

    fn params(&mut self, params: &mut Params, layer: &str) -> Result<(), SpecError> {
        let open = self.here();
        self.bump();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.bump();
            return Ok(());
        }
        loop {
            self.skip_ws();
            let key_start = self.pos;
            let key = self.take_while(is_word);
            if key.is_empty() {
                return Err(match self.peek() {
                    None => unclosed(open, layer),
                    Some(_) => self.unexpected("a parameter name"),
                });
            }
            let key_span = (key_start, self.pos);
            Parser::check_name(key, key_span, "parameter name")?;
            self.skip_ws();
            match self.peek() {
                Some('=') => {
                    self.bump();
                }
                None => return Err(unclosed(open, layer)),
                Some(_) => {
                    return Err(self
                        .unexpected(&format!("`=` after `{key}`"))
                        .with_help(format!("parameters are written `{key}=value`")));
                }
            }
            self.skip_ws();
            let (value, value_span) =
                if self.peek() == Some('"') { self.quoted()? } else { self.bare(open, layer, key)? };
            params.insert_at(key, value, Some(key_span), Some(value_span))?;
            self.skip_ws();
            match self.bump() {
                Some(',') => {}
                Some(')') => return Ok(()),
                None => return Err(unclosed(open, layer)),
                Some(c) => {
                    self.pos -= c.len_utf8();
                    return Err(self.unexpected(&format!("`,` or `)` after the value of `{key}`")));
                }
            }
        }
    }

    /// A bare value: up to `,` or `)` outside nested parentheses, trailing space trimmed.
    fn bare(&mut self, open: Span, layer: &str, key: &str) -> Result<(String, Span), SpecError> {
        let start = self.pos;
        let mut nested: Vec<Span> = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(match nested.last() {
                        Some(&inner) => SpecError::syntax(format!("unclosed `(` in the value of `{key}`"))
                            .at(inner)
                            .with_help("add the missing `)` or quote the value"),
                        None => unclosed(open, layer),
                    });
                }
                Some(',' | ')') if nested.is_empty() => break,
                Some('(') => nested.push(self.here()),
                Some(')') => {
                    nested.pop();
                }
                Some('"') => {
                    return Err(SpecError::syntax(format!("unexpected `\"` inside the value of `{key}`"))
                        .at(self.here())
                        .with_help(format!("quote the whole value: `{key}=\"...\"`")));
                }
                Some(_) => {}
            }
            self.bump();
        }
        let value = self.text[start..self.pos].trim_end();
        if value.is_empty() {
            return Err(SpecError::syntax(format!("missing value for `{key}`"))
                .at(self.here())
                .with_help(format!("write `{key}=\"\"` for an empty value")));
        }
        Ok((value.to_owned(), (start, start + value.len())))
    }

    /// A quoted value; `\"` and `\\` are the only escapes.
    fn quoted(&mut self) -> Result<(String, Span), SpecError> {
        let start = self.pos;
        self.bump();
        let mut value = String::new();
        loop {
            let at = self.pos;
            match self.bump() {
                Some('"') => return Ok((value, (start, self.pos))),
                Some('\\') => match self.bump() {
                    Some(c @ ('"' | '\\')) => value.push(c),
                    Some(c) => {
                        return Err(SpecError::syntax(format!("unknown escape `\\{c}` in a quoted value"))
                            .at((at, self.pos))
                            .with_help("only `\\\"` and `\\\\` are escapes"));
                    }
                    None => break,
                },
                Some(c) => value.push(c),
                None => break,
            }
        }
        Err(SpecError::syntax("unterminated quoted value")
            .at((start, start + 1))
            .with_help("close it with `\"`"))
    }
}
