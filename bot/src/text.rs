//! Text shaping every chat front-end needs: lines for buttons that could not be buttons, and
//! long text cut into messages at line ends. Each platform says how it measures length.

/// The text with extra lines under it.
pub fn with_extra_lines(text: &str, extra: &[String]) -> String {
    let mut out = text.trim_end().to_string();
    for line in extra {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// Parts of at most `max` units (as `len` counts a character), cut at line ends where
/// possible, inside a line only when the line alone is too long; blank parts are dropped.
pub fn split(text: &str, max: usize, len: fn(char) -> usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    for line in text.split_inclusive('\n') {
        let line_len: usize = line.chars().map(len).sum();
        if cur_len + line_len > max && !cur.is_empty() {
            parts.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        if line_len > max {
            for c in line.chars() {
                if cur_len + len(c) > max {
                    parts.push(std::mem::take(&mut cur));
                    cur_len = 0;
                }
                cur.push(c);
                cur_len += len(c);
            }
        } else {
            cur.push_str(line);
            cur_len += line_len;
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| p.trim_end().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}
