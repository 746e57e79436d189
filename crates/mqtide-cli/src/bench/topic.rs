//! Topic patterns: `%i` (the client's number, from 1), `%c` (its client
//! id), `%u` (the user name) and `%%` (a percent sign), as emqtt-bench
//! writes them.

use mqtide::{Error, TopicFilter, TopicName};

/// A checked topic pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    text: String,
}

/// What the variables of a pattern stand for, for one client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Vars<'a> {
    pub(crate) index: u32,
    pub(crate) client_id: &'a str,
    pub(crate) username: &'a str,
}

impl Pattern {
    /// Checks that every `%` starts a known variable.
    pub(crate) fn new(text: &str) -> Result<Self, Error> {
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '%' {
                match chars.next() {
                    Some('i' | 'c' | 'u' | '%') => {}
                    Some(other) => {
                        return Err(Error::InvalidOption(format!(
                            "-t {text}: unknown variable %{other}; use %i (client number), %c (client id), %u (user name) or %% (a percent sign)"
                        )));
                    }
                    None => {
                        return Err(Error::InvalidOption(format!(
                            "-t {text}: a lone % at the end; write %% for a percent sign"
                        )));
                    }
                }
            }
        }
        Ok(Self { text: text.into() })
    }

    /// The topic for one client.
    pub(crate) fn expand(&self, vars: Vars<'_>) -> String {
        let mut out = String::with_capacity(self.text.len() + 16);
        let mut chars = self.text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('i') => out.push_str(&vars.index.to_string()),
                Some('c') => out.push_str(vars.client_id),
                Some('u') => out.push_str(vars.username),
                Some('%') => out.push('%'),
                // `new` admits nothing else.
                _ => {}
            }
        }
        out
    }

    /// Checks that the pattern gives a valid topic name (no wildcards), so
    /// that a bad `-t` fails before any client connects.
    pub(crate) fn check_name(&self, flag: &str, vars: Vars<'_>) -> Result<(), Error> {
        TopicName::new(self.expand(vars).as_str())
            .map(drop)
            .map_err(|e| Error::InvalidOption(format!("{flag} {}: {e}", self.text)))
    }

    /// Checks that the pattern gives a valid topic filter.
    pub(crate) fn check_filter(&self, flag: &str, vars: Vars<'_>) -> Result<(), Error> {
        TopicFilter::new(self.expand(vars).as_str())
            .map(drop)
            .map_err(|e| Error::InvalidOption(format!("{flag} {}: {e}", self.text)))
    }

    /// A filter that matches the topic of every client: each level that
    /// holds a variable becomes `+` (`bench/%i/data` → `bench/+/data`).
    pub(crate) fn wildcard(&self) -> String {
        self.text
            .split('/')
            .map(|level| {
                if level.replace("%%", "").contains('%') {
                    "+".to_owned()
                } else {
                    level.replace("%%", "%")
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(index: u32) -> Vars<'static> {
        Vars {
            index,
            client_id: "bench-pub-7",
            username: "alice",
        }
    }

    #[test]
    fn variables_expand_per_client() {
        let pattern = Pattern::new("t/%i/%c/%u/100%%").unwrap();
        assert_eq!(pattern.expand(vars(3)), "t/3/bench-pub-7/alice/100%");
        assert_eq!(Pattern::new("plain").unwrap().expand(vars(1)), "plain");
    }

    #[test]
    fn wildcard_covers_every_client() {
        assert_eq!(Pattern::new("bench/%i").unwrap().wildcard(), "bench/+");
        assert_eq!(Pattern::new("a/dev-%i/x/%c").unwrap().wildcard(), "a/+/x/+");
        assert_eq!(Pattern::new("a/50%%/b").unwrap().wildcard(), "a/50%/b");
        assert_eq!(
            Pattern::new("fixed/topic").unwrap().wildcard(),
            "fixed/topic"
        );
    }

    #[test]
    fn names_and_filters_are_checked() {
        let wild = Pattern::new("a/+/%i").unwrap();
        let error = wild.check_name("-t", vars(1)).unwrap_err().to_string();
        assert!(error.contains("-t a/+/%i"), "{error}");
        assert!(wild.check_filter("-t", vars(1)).is_ok());
        assert!(
            Pattern::new("a/#/b")
                .unwrap()
                .check_filter("-t", vars(1))
                .is_err()
        );
    }

    #[test]
    fn unknown_variables_are_refused() {
        let error = Pattern::new("t/%x").unwrap_err().to_string();
        assert!(error.contains("unknown variable %x"), "{error}");
        assert!(Pattern::new("t/%").is_err());
    }
}
