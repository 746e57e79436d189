//! `--pretty`: the JSON of `%j` / `%J` laid out as mosquitto_sub lays it
//! out, which is cJSON's formatted printing: one member per line, indented
//! by tabs, a tab between a key's colon and its value, array elements on
//! one line separated by `, `, and an empty object as `{`, newline, `}`.
//!
//! The input is JSON that [`super::render`] made (or a `%J` payload that
//! was checked to be JSON), so this only re-lays tokens out: whitespace
//! outside strings is dropped, strings and numbers are copied as written.
//! (cJSON re-prints numbers, so `1.0` in a `%J` payload shows as `1`
//! there and as `1.0` here.)

/// `json` laid out as cJSON's formatted printing does; text that is not
/// JSON comes back unchanged.
pub(crate) fn pretty(json: &[u8]) -> Vec<u8> {
    let mut printer = Printer {
        input: json,
        at: 0,
        out: Vec::with_capacity(json.len() * 2),
    };
    match printer.value(0) {
        Some(()) if printer.rest_is_blank() => printer.out,
        _ => json.to_vec(),
    }
}

struct Printer<'a> {
    input: &'a [u8],
    at: usize,
    out: Vec<u8>,
}

impl Printer<'_> {
    fn skip_blank(&mut self) {
        while self
            .input
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
    }

    fn rest_is_blank(&mut self) -> bool {
        self.skip_blank();
        self.at == self.input.len()
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_blank();
        self.input.get(self.at).copied()
    }

    /// One value; `depth` is the number of objects around it.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string(),
            _ => self.scalar(),
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        self.at += 1;
        self.out.extend_from_slice(b"{\n");
        let inner = depth + 1;
        if self.peek()? != b'}' {
            loop {
                self.tabs(inner);
                if self.peek()? != b'"' {
                    return None;
                }
                self.string()?;
                if self.peek()? != b':' {
                    return None;
                }
                self.at += 1;
                self.out.extend_from_slice(b":\t");
                self.value(inner)?;
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.out.extend_from_slice(b",\n");
                    }
                    b'}' => {
                        self.out.push(b'\n');
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.at += 1;
        self.tabs(depth);
        self.out.push(b'}');
        Some(())
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        self.at += 1;
        self.out.push(b'[');
        if self.peek()? != b']' {
            loop {
                // cJSON counts an array as a level of depth too.
                self.value(depth + 1)?;
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.out.extend_from_slice(b", ");
                    }
                    b']' => break,
                    _ => return None,
                }
            }
        }
        self.at += 1;
        self.out.push(b']');
        Some(())
    }

    /// A string, copied with its escapes.
    fn string(&mut self) -> Option<()> {
        let start = self.at;
        self.at += 1;
        loop {
            match *self.input.get(self.at)? {
                b'\\' => self.at += 2,
                b'"' => break,
                _ => self.at += 1,
            }
        }
        self.at += 1;
        self.out.extend_from_slice(&self.input[start..self.at]);
        Some(())
    }

    /// A number, `true`, `false` or `null`, copied.
    fn scalar(&mut self) -> Option<()> {
        let start = self.at;
        while self
            .input
            .get(self.at)
            .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
        if self.at == start {
            return None;
        }
        self.out.extend_from_slice(&self.input[start..self.at]);
        Some(())
    }

    fn tabs(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(b'\t', n));
    }
}

#[cfg(test)]
mod tests {
    use super::pretty;

    fn show(json: &str) -> String {
        String::from_utf8(pretty(json.as_bytes())).unwrap()
    }

    #[test]
    fn lays_out_as_mosquitto_sub_pretty() {
        // What mosquitto_sub 2.0.11 printed for -F %J --pretty.
        assert_eq!(
            show(
                r#"{"topic":"a/b","qos":0,"properties":{"content-type":"t"},"payload":{"x":[1, 2],"y":{}}}"#
            ),
            "{\n\t\"topic\":\t\"a/b\",\n\t\"qos\":\t0,\n\t\"properties\":\t{\n\t\t\"content-type\":\t\"t\"\n\t},\n\t\"payload\":\t{\n\t\t\"x\":\t[1, 2],\n\t\t\"y\":\t{\n\t\t}\n\t}\n}"
        );
    }

    #[test]
    fn strings_keep_their_escapes_and_objects_in_arrays_indent() {
        assert_eq!(
            show(r#"{"a":"x\"},{y","b":[{"c":null}],"d":[]}"#),
            "{\n\t\"a\":\t\"x\\\"},{y\",\n\t\"b\":\t[{\n\t\t\t\"c\":\tnull\n\t\t}],\n\t\"d\":\t[]\n}"
        );
    }

    #[test]
    fn not_json_is_left_alone() {
        assert_eq!(show("{\"a\":"), "{\"a\":");
        assert_eq!(show("{} x"), "{} x");
    }
}
