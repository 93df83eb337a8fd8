//! Wikitext → safe HTML, in the shapes MediaWiki 1.39 gives a file description page for
//! `index.php?action=render`.
//!
//! Other wikis embed that rendering raw into their own pages, so safety comes first: every
//! piece of text the page author wrote is escaped when it is written out, and the only markup
//! in the result is markup this module produced itself: a small whitelist of HTML tags with
//! `lang`, `dir`, `title` and `class` attributes, links whose `href` starts with one of
//! `http:`, `https:`, `ftp:`, `mailto:`, `//` or the configured `index.php`, and the blocks of
//! the templates it knows. A last pass balances every tag, so the result is closed even when
//! the wikitext is not.
//!
//! The passes follow MediaWiki's order, on a string in which finished HTML stands as
//! `\x7f<n>\x7f` markers (the page text cannot contain `\x7f`: [`parse`] drops control
//! characters):
//! 1. [`parse`] builds the preprocessor tree: templates with their arguments (pipes inside
//!    `[[…]]` do not split), `<nowiki>`, `<pre>`, comments removed.
//! 2. Expansion: templates become markers (the known ones as a block of their own, the others
//!    as MediaWiki's link to the missing template page), magic words such as `__NOTOC__` go.
//! 3. HTML tags: whitelisted ones become markers, balanced over the text; others stay text.
//! 4. `[[Category:…]]` links are taken out, with the white space before them.
//! 5. Tables (`{| … |}`), then per line: `----`, headings, lists (`*#:;`), paragraphs and
//!    space-indented `<pre>`; the text of each line gets its links, bold/italic, entities and
//!    escaping.
//! 6. Markers are put back, tags balanced.
//!
//! Every pass is linear or close to it (searches for closing delimiters use precomputed
//! position lists), nesting is bounded everywhere, and nothing panics on any input.
//!
//! The templates understood (see [`license`], [`language_name`], [`restriction`]) are those
//! the Wikimedia Commons description pages use and [`crate::describe`] reads facts from:
//! `{{Information}}`, language templates (`{{en|1=…}}`), `{{own}}`, licence templates,
//! `{{self|…}}`, `{{Trademarked}}`, `{{Personality rights}}`, `{{Insignia}}`.

use std::collections::{HashMap, HashSet};

use crate::title::{
    decode_char_references, parse_title_in, wfurlencode, Title, NS_CATEGORY, NS_FILE, NS_MAIN,
    NS_MEDIA, NS_TEMPLATE,
};

/// Nesting of `{{` and `[[` in the preprocessor; deeper openings are text.
const MAX_FRAMES: usize = 40;
/// Known templates rendered inside known templates.
const MAX_RENDER_DEPTH: usize = 8;
/// Whitelisted HTML tags open at once; further ones are text.
const MAX_OPEN_TAGS: usize = 64;
/// List nesting (`***…`); further prefix characters are text.
const MAX_LIST_DEPTH: usize = 24;
/// Tables inside table cells.
const MAX_TABLE_DEPTH: usize = 8;
/// Starts and ends a marker that stands for finished HTML.
const MARK: char = '\u{7f}';

// ---------------------------------------------------------------------------------------------
// Public API

/// A rendered page: the `mw-parser-output` block and the categories taken out of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// `<div class="mw-parser-output">…</div>`.
    pub html: String,
    /// Category names (`"Red things"`, spaces, no namespace, no sort key), in order of first
    /// appearance, each once.
    pub categories: Vec<String>,
}

/// Renders page text as `action=render` does. `index` is the wiki's `index.php` URL (for
/// example `http://127.0.0.1:8090/w/index.php`); internal links point at `{index}?title=…`.
pub fn render(text: &str, index: &str) -> Rendered {
    render_page(text, index, true)
}

/// [`render`], with the known templates rendered as missing ones when `known` is false
/// (what a wiki without them shows).
fn render_page(text: &str, index: &str, known: bool) -> Rendered {
    render_parsed(&parse(text), index, known)
}

/// [`render`] of text already [`parse`]d.
fn render_parsed(nodes: &[Node], index: &str, known: bool) -> Rendered {
    let mut ctx = Ctx::new(index, known);
    let body = render_nodes(nodes, &mut ctx, true);
    Rendered {
        html: format!("<div class=\"mw-parser-output\">{body}</div>"),
        categories: ctx.categories,
    }
}

/// Renders wikitext for use inside other HTML: no wrapper, no paragraphs (lines are kept
/// apart by newlines), lists and tables as usual. Categories are dropped.
pub fn render_inline(text: &str, index: &str) -> String {
    render_nodes_inline(&parse(text), index)
}

/// [`render_inline`] of an already parsed piece, such as a template argument.
pub fn render_nodes_inline(nodes: &[Node], index: &str) -> String {
    let mut ctx = Ctx::new(index, true);
    render_nodes(nodes, &mut ctx, false)
}

/// The categories of page text (names with spaces, no sort key), in order, each once.
pub fn categories(text: &str) -> Vec<String> {
    parsed_categories(&parse(text))
}

/// [`categories`] of text already [`parse`]d.
pub fn parsed_categories(nodes: &[Node]) -> Vec<String> {
    render_parsed(nodes, "", true).categories
}

// ---------------------------------------------------------------------------------------------
// Preprocessor tree

/// A node of the preprocessor tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Wikitext without templates (links, formatting and tags are still in it).
    Text(String),
    /// `{{name|args}}`.
    Template(Template),
    /// The raw content of `<nowiki>…</nowiki>`.
    Nowiki(String),
    /// The raw content of `<pre>…</pre>`.
    Pre(String),
}

/// A template call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The part before the first `|`, as written (untrimmed).
    pub name: Vec<Node>,
    /// The arguments in order.
    pub args: Vec<Arg>,
}

/// One template argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// `Some` for a named argument (`name=value`), trimmed.
    pub name: Option<Vec<Node>>,
    /// The value; trimmed for named arguments, as written for positional ones.
    pub value: Vec<Node>,
}

impl Template {
    /// The name as plain text, trimmed; `None` when the name holds a template or a tag.
    pub fn name_text(&self) -> Option<String> {
        plain_text(&self.name).map(|s| s.trim().to_owned())
    }

    /// The name as a lookup key: `Template:` prefix removed, `_` as space, white space
    /// collapsed, lower case (`"Cc-by-sa-4.0"` → `"cc-by-sa-4.0"`).
    pub fn key(&self) -> Option<String> {
        let name = self.name_text()?;
        let mut key = normalize_key(&name);
        if let Some(rest) = key.strip_prefix("template:") {
            key = rest.trim_start().to_owned();
        }
        Some(key)
    }

    /// The value of an argument by name, as MediaWiki resolves them: positional arguments
    /// are numbered from `"1"`, the last of several with one name wins. Names compare
    /// case-insensitively, `_` as space.
    pub fn arg(&self, name: &str) -> Option<&[Node]> {
        let wanted = normalize_key(name);
        self.resolved()
            .into_iter()
            .rev()
            .find(|(key, _)| *key == wanted)
            .map(|(_, value)| value)
    }

    /// The positional arguments in order.
    pub fn positional(&self) -> Vec<&[Node]> {
        self.args
            .iter()
            .filter(|a| a.name.is_none())
            .map(|a| a.value.as_slice())
            .collect()
    }

    /// Every argument with its resolved, normalised name.
    fn resolved(&self) -> Vec<(String, &[Node])> {
        let mut n = 0;
        self.args
            .iter()
            .map(|a| {
                let key = match &a.name {
                    Some(name) => normalize_key(&plain_text(name).unwrap_or_default()),
                    None => {
                        n += 1;
                        n.to_string()
                    }
                };
                (key, a.value.as_slice())
            })
            .collect()
    }
}

/// Lower case, trimmed, `_` as space, runs of white space as one space.
fn normalize_key(s: &str) -> String {
    s.replace('_', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The text of nodes that are only text.
fn plain_text(nodes: &[Node]) -> Option<String> {
    let mut out = String::new();
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            _ => return None,
        }
    }
    Some(out)
}

/// Wikitext of nodes (comments are gone; everything else as written).
pub fn source(nodes: &[Node]) -> String {
    let mut out = String::new();
    write_source(nodes, &mut out);
    out
}

fn write_source(nodes: &[Node], out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Nowiki(t) => {
                out.push_str("<nowiki>");
                out.push_str(t);
                out.push_str("</nowiki>");
            }
            Node::Pre(t) => {
                out.push_str("<pre>");
                out.push_str(t);
                out.push_str("</pre>");
            }
            Node::Template(t) => {
                out.push_str("{{");
                write_source(&t.name, out);
                for a in &t.args {
                    out.push('|');
                    if let Some(name) = &a.name {
                        write_source(name, out);
                        out.push('=');
                    }
                    write_source(&a.value, out);
                }
                out.push_str("}}");
            }
        }
    }
}

/// Drops what a page cannot hold: NUL and other C0 controls except tab and newline, DEL
/// (it delimits markers); CR LF and lone CR become LF.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {}
            c => out.push(c),
        }
    }
    out
}

#[derive(Default)]
struct Part {
    /// The name of a `name=value` argument, once its `=` is seen.
    name: Option<Vec<Node>>,
    nodes: Vec<Node>,
}

struct Frame {
    /// `{{` (true) or `[[` (false).
    brace: bool,
    /// Opening characters not yet matched.
    count: usize,
    parts: Vec<Part>,
}

fn push_node(nodes: &mut Vec<Node>, node: Node) {
    if let Node::Text(t) = &node {
        if t.is_empty() {
            return;
        }
        if let Some(Node::Text(last)) = nodes.last_mut() {
            last.push_str(t);
            return;
        }
    }
    nodes.push(node);
}

fn push_str(nodes: &mut Vec<Node>, s: &str) {
    if s.is_empty() {
        return;
    }
    if let Some(Node::Text(last)) = nodes.last_mut() {
        last.push_str(s);
    } else {
        nodes.push(Node::Text(s.to_owned()));
    }
}

/// Leading and trailing white space of a node list removed (from its text ends).
fn trim_nodes(mut nodes: Vec<Node>) -> Vec<Node> {
    if let Some(Node::Text(t)) = nodes.first_mut() {
        let trimmed = t.trim_start().len();
        t.drain(..t.len() - trimmed);
    }
    if let Some(Node::Text(t)) = nodes.last_mut() {
        t.truncate(t.trim_end().len());
    }
    nodes.retain(|n| !matches!(n, Node::Text(t) if t.is_empty()));
    nodes
}

/// Extension-like tags the preprocessor itself handles.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Special {
    Nowiki,
    Pre,
    IncludeOnly,
    /// `<noinclude>`, `<onlyinclude>` and their closing tags: dropped, content kept.
    Drop,
}

struct Preprocessor<'t> {
    text: &'t str,
    lower: String,
    root: Vec<Node>,
    stack: Vec<Frame>,
    /// Tags known to have no closing tag after some point (searches are not repeated).
    unclosed: Vec<&'static str>,
}

/// Parses wikitext into the preprocessor tree: templates and their arguments, `<nowiki>`
/// and `<pre>` content, comments removed, `<includeonly>` parts removed. Unclosed or
/// mismatched braces and brackets stay text.
pub fn parse(text: &str) -> Vec<Node> {
    let text = clean(text);
    Preprocessor {
        lower: text.to_ascii_lowercase(),
        text: &text,
        root: Vec::new(),
        stack: Vec::new(),
        unclosed: Vec::new(),
    }
    .run()
}

impl Preprocessor<'_> {
    fn cur(&mut self) -> &mut Vec<Node> {
        match self.stack.last_mut() {
            Some(frame) => match frame.parts.last_mut() {
                Some(part) => &mut part.nodes,
                None => &mut self.root,
            },
            None => &mut self.root,
        }
    }

    fn top_is(&self, brace: bool) -> bool {
        self.stack.last().is_some_and(|f| f.brace == brace)
    }

    fn run(mut self) -> Vec<Node> {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut run = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let special = matches!(b, b'<' | b'{' | b'}' | b'[' | b']' | b'|' | b'=');
            if !special {
                i += 1;
                continue;
            }
            let flush = |this: &mut Self, upto: usize, run: usize| {
                push_str(this.cur(), &text[run..upto]);
            };
            match b {
                b'<' => {
                    if let Some(next) = self.tag(i, &mut run) {
                        i = next;
                        run = i;
                    } else {
                        i += 1;
                    }
                }
                b'{' | b'[' => {
                    let n = bytes[i..].iter().take_while(|&&c| c == b).count();
                    if n >= 2 && self.stack.len() < MAX_FRAMES {
                        let brace = b == b'{';
                        // `[[[` is a `[` of text before a `[[`.
                        let literal = if brace { 0 } else { n - 2 };
                        flush(&mut self, i + literal, run);
                        self.stack.push(Frame {
                            brace,
                            count: if brace { n } else { 2 },
                            parts: vec![Part::default()],
                        });
                        i += n;
                        run = i;
                    } else {
                        i += n;
                    }
                }
                b'}' | b']' => {
                    let n = bytes[i..].iter().take_while(|&&c| c == b).count();
                    let brace = b == b'}';
                    if n >= 2 && self.top_is(brace) {
                        flush(&mut self, i, run);
                        let rest = if brace {
                            self.close_braces(n)
                        } else {
                            self.close_brackets(n)
                        };
                        push_str(self.cur(), &text[i + n - rest..i + n]);
                        i += n;
                        run = i;
                    } else {
                        i += n;
                    }
                }
                b'|' if self.top_is(true) => {
                    flush(&mut self, i, run);
                    if let Some(frame) = self.stack.last_mut() {
                        frame.parts.push(Part::default());
                    }
                    i += 1;
                    run = i;
                }
                b'=' if self.top_is(true) => {
                    flush(&mut self, i, run);
                    let mut taken = false;
                    if let Some(frame) = self.stack.last_mut() {
                        let n_parts = frame.parts.len();
                        if let Some(part) = frame.parts.last_mut() {
                            if n_parts >= 2 && part.name.is_none() {
                                part.name = Some(std::mem::take(&mut part.nodes));
                                taken = true;
                            }
                        }
                    }
                    run = if taken { i + 1 } else { i };
                    i += 1;
                }
                _ => i += 1,
            }
        }
        push_str(self.cur(), &text[run..]);
        while let Some(frame) = self.stack.pop() {
            let nodes = flatten(frame);
            for n in nodes {
                push_node(self.cur(), n);
            }
        }
        self.root
    }

    /// Handles `<` at `i`: a comment or one of the [`Special`] tags. Returns where scanning
    /// goes on (text before `i` flushed), or `None` when `<` is plain text.
    fn tag(&mut self, i: usize, run: &mut usize) -> Option<usize> {
        let text = self.text;
        let bytes = text.as_bytes();
        if text[i..].starts_with("<!--") {
            let end = self.lower[i + 4..]
                .find("-->")
                .map_or(text.len(), |p| i + 4 + p + 3);
            push_str(self.cur(), &text[*run..i]);
            // A comment alone on its line takes the line with it.
            let before_ok = text[..i]
                .bytes()
                .rev()
                .take_while(|&c| c != b'\n')
                .all(|c| c == b' ' || c == b'\t');
            let after = text[end..]
                .bytes()
                .take_while(|&c| c == b' ' || c == b'\t')
                .count();
            if before_ok && bytes.get(end + after) == Some(&b'\n') {
                if let Some(Node::Text(t)) = self.cur().last_mut() {
                    t.truncate(t.trim_end_matches([' ', '\t']).len());
                }
                return Some(end + after + 1);
            }
            return Some(end);
        }
        let closing = bytes.get(i + 1) == Some(&b'/');
        let name_start = i + 1 + usize::from(closing);
        let name_len = bytes[name_start..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        let name = &self.lower[name_start..name_start + name_len];
        let (kind, close) = match name {
            "nowiki" => (Special::Nowiki, "</nowiki"),
            "pre" => (Special::Pre, "</pre"),
            "includeonly" => (Special::IncludeOnly, "</includeonly"),
            "noinclude" | "onlyinclude" => (Special::Drop, ""),
            _ => return None,
        };
        let after_name = name_start + name_len;
        // The tag ends at the next '>', before any other '<'.
        let gt = after_name + text[after_name..].find(['>', '<'])?;
        if bytes[gt] != b'>' {
            return None;
        }
        let self_closing = bytes[..gt].last() == Some(&b'/');
        if kind == Special::Drop {
            push_str(self.cur(), &text[*run..i]);
            return Some(gt + 1);
        }
        if closing {
            if kind == Special::IncludeOnly {
                push_str(self.cur(), &text[*run..i]);
                return Some(gt + 1);
            }
            return None;
        }
        if self_closing {
            push_str(self.cur(), &text[*run..i]);
            return Some(gt + 1);
        }
        let body_start = gt + 1;
        let found = self.find_close(body_start, close);
        let (body_end, next) = match found {
            Some(span) => span,
            None if kind == Special::IncludeOnly => (text.len(), text.len()),
            None => return None,
        };
        push_str(self.cur(), &text[*run..i]);
        let body = text[body_start..body_end].to_owned();
        match kind {
            Special::Nowiki => self.cur().push(Node::Nowiki(body)),
            Special::Pre => self.cur().push(Node::Pre(body)),
            Special::IncludeOnly | Special::Drop => {}
        }
        Some(next)
    }

    /// The next closing tag `close` (`</name`, then optional white space and `>`) from
    /// `from`: its start and the position after it.
    fn find_close(&mut self, from: usize, close: &'static str) -> Option<(usize, usize)> {
        if self.unclosed.contains(&close) {
            return None;
        }
        let mut at = from;
        while let Some(p) = self.lower[at..].find(close) {
            let start = at + p;
            let rest = &self.lower[start + close.len()..];
            let ws = rest.len() - rest.trim_start().len();
            if rest[ws..].starts_with('>') {
                return Some((start, start + close.len() + ws + 1));
            }
            at = start + close.len();
        }
        self.unclosed.push(close);
        None
    }

    /// Closes braces with a run of `n` `}`; returns how many were left unused.
    fn close_braces(&mut self, mut n: usize) -> usize {
        while n >= 2 && self.top_is(true) {
            let Some(frame) = self.stack.pop() else { break };
            let used = if frame.count >= 3 && n >= 3 { 3 } else { 2 };
            let remaining = frame.count - used;
            let built: Vec<Node> = if used == 2 {
                vec![Node::Template(build_template(frame.parts))]
            } else {
                // `{{{param}}}` has no value outside a template: it stays as written.
                let mut nodes = vec![Node::Text("{{{".into())];
                for n in join_parts(frame.parts) {
                    push_node(&mut nodes, n);
                }
                push_str(&mut nodes, "}}}");
                nodes
            };
            n -= used;
            if remaining >= 2 {
                self.stack.push(Frame {
                    brace: true,
                    count: remaining,
                    parts: vec![Part {
                        name: None,
                        nodes: built,
                    }],
                });
            } else {
                let cur = self.cur();
                if remaining == 1 {
                    push_str(cur, "{");
                }
                for node in built {
                    push_node(cur, node);
                }
            }
        }
        n
    }

    /// Closes `[[` frames with a run of `n` `]`; returns how many were left unused.
    fn close_brackets(&mut self, mut n: usize) -> usize {
        while n >= 2 && self.top_is(false) {
            let Some(frame) = self.stack.pop() else { break };
            let cur = self.cur();
            push_str(cur, "[[");
            for node in join_parts(frame.parts) {
                push_node(cur, node);
            }
            push_str(cur, "]]");
            n -= 2;
        }
        n
    }
}

/// An unclosed frame as text.
fn flatten(frame: Frame) -> Vec<Node> {
    let open = if frame.brace {
        "{".repeat(frame.count)
    } else {
        "[[".to_owned()
    };
    let mut nodes = vec![Node::Text(open)];
    for n in join_parts(frame.parts) {
        push_node(&mut nodes, n);
    }
    nodes
}

/// The nodes of parts as text again: joined with `|`, each `=` put back.
fn join_parts(parts: Vec<Part>) -> Vec<Node> {
    let mut out = Vec::new();
    for (k, part) in parts.into_iter().enumerate() {
        if k > 0 {
            push_str(&mut out, "|");
        }
        if let Some(name) = part.name {
            for node in name {
                push_node(&mut out, node);
            }
            push_str(&mut out, "=");
        }
        for node in part.nodes {
            push_node(&mut out, node);
        }
    }
    out
}

fn build_template(parts: Vec<Part>) -> Template {
    let mut parts = parts.into_iter();
    let name = parts.next().map(|p| p.nodes).unwrap_or_default();
    let args = parts
        .map(|part| match part.name {
            Some(name) => Arg {
                name: Some(trim_nodes(name)),
                value: trim_nodes(part.nodes),
            },
            None => Arg {
                name: None,
                value: part.nodes,
            },
        })
        .collect();
    Template { name, args }
}

// ---------------------------------------------------------------------------------------------
// Rendering context and markers

struct Ctx<'a> {
    index: &'a str,
    /// Whether known templates render their own block (tests turn it off to compare with a
    /// wiki that has no templates).
    known: bool,
    depth: usize,
    autonumber: usize,
    categories: Vec<String>,
    heading_ids: HashSet<String>,
    /// The next suffix to try for a repeated heading id.
    heading_next: HashMap<String, usize>,
}

impl<'a> Ctx<'a> {
    fn new(index: &'a str, known: bool) -> Self {
        Ctx {
            index,
            known,
            depth: 0,
            autonumber: 0,
            categories: Vec::new(),
            heading_ids: HashSet::new(),
            heading_next: HashMap::new(),
        }
    }
}

/// How a marker counts for paragraphs, as MediaWiki's block-level tag lists do: a line with
/// an opening block (`<table`, `<p`, `<ul`, `<li`, `<h2`, `</td`, …) or a closing one
/// (`</table`, `<div`, `</div`, `<td`, `<hr`, …) is not wrapped in `<p>`.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct Block {
    open: bool,
    close: bool,
}

const INLINE: Block = Block {
    open: false,
    close: false,
};
const OPEN: Block = Block {
    open: true,
    close: false,
};
const CLOSE: Block = Block {
    open: false,
    close: true,
};

#[derive(Default)]
struct Markers {
    html: Vec<(String, Block)>,
}

impl Markers {
    /// Stores finished HTML; returns the marker that stands for it.
    fn add(&mut self, html: String, block: Block) -> String {
        self.html.push((html, block));
        format!("{MARK}{}{MARK}", self.html.len() - 1)
    }

    /// The marker at the start of `s`: its length and number.
    fn at(s: &str) -> Option<(usize, usize)> {
        let rest = s.strip_prefix(MARK)?;
        let end = rest.find(MARK)?;
        let n = rest[..end].parse().ok()?;
        Some((end + 2, n))
    }

    fn block_of(&self, line: &str) -> Block {
        let mut block = INLINE;
        let mut rest = line;
        while let Some(p) = rest.find(MARK) {
            rest = &rest[p..];
            match Markers::at(rest) {
                Some((len, n)) => {
                    if let Some((_, b)) = self.html.get(n) {
                        block.open |= b.open;
                        block.close |= b.close;
                    }
                    rest = &rest[len..];
                }
                None => rest = &rest[MARK.len_utf8()..],
            }
        }
        block
    }

    /// The text with every marker replaced by its HTML.
    fn unstrip(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(p) = rest.find(MARK) {
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            match Markers::at(rest) {
                Some((len, n)) => {
                    if let Some((html, _)) = self.html.get(n) {
                        out.push_str(html);
                    }
                    rest = &rest[len..];
                }
                None => rest = &rest[MARK.len_utf8()..],
            }
        }
        out.push_str(rest);
        out
    }
}

fn render_nodes(nodes: &[Node], ctx: &mut Ctx, paragraphs: bool) -> String {
    let mut marks = Markers::default();
    let mut text = String::new();
    expand(nodes, ctx, &mut marks, &mut text);
    let text = sanitize_tags(text.trim_end(), &mut marks);
    let text = extract_categories(&text, ctx);
    let text = tables(&text, &mut marks);
    let html = blocks(&text, ctx, &mut marks, paragraphs);
    let html = balance(&marks.unstrip(&html));
    if paragraphs {
        html
    } else {
        html.trim_end().to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Escaping

/// Character references decoded; a reference to U+007F (which delimits markers) becomes
/// U+FFFD, so no text, attribute or URL can ever spell a marker.
fn decode(s: &str) -> String {
    let decoded = decode_char_references(s);
    if decoded.contains(MARK) {
        decoded.replace(MARK, "\u{fffd}")
    } else {
        decoded
    }
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
}

/// Text content: valid character references are kept (decoded, then escaped again), every
/// other `&`, `<` and `>` is escaped.
fn push_text(out: &mut String, s: &str) {
    if s.contains('&') {
        escape_into(out, &decode(s));
    } else {
        escape_into(out, s);
    }
}

fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_text(&mut out, s);
    out
}

/// An attribute value (always written in double quotes).
fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Expansion

/// Magic words (`__NOTOC__`) that MediaWiki removes from the text.
const MAGIC_WORDS: &[&str] = &[
    "NOTOC",
    "FORCETOC",
    "TOC",
    "NOEDITSECTION",
    "NEWSECTIONLINK",
    "NONEWSECTIONLINK",
    "NOGALLERY",
    "HIDDENCAT",
    "EXPECTUNUSEDCATEGORY",
    "NOCONTENTCONVERT",
    "NOCC",
    "NOTITLECONVERT",
    "NOTC",
    "INDEX",
    "NOINDEX",
    "STATICREDIRECT",
    "DISAMBIG",
    "EXPECTUNUSEDTEMPLATE",
];

/// The English text of an interface message for `{{int:key}}`, as MediaWiki shows a
/// missing one (`⧼key⧽`) when it is not one of the few that description pages use.
fn message(key: &str) -> String {
    let lower = key.to_lowercase();
    let known = match lower.as_str() {
        "filedesc" => "Summary",
        "license-header" | "license" => "Licensing",
        "original upload log" | "wm-license-original-upload-log" => "Original upload log",
        "wm-license-information-description" => "Description",
        "wm-license-information-date" => "Date",
        "wm-license-information-source" => "Source",
        "wm-license-information-author" => "Author",
        "wm-license-information-permission" => "Permission",
        "wm-license-own-work" => "Own work",
        _ => return format!("⧼{key}⧽"),
    };
    known.to_owned()
}

/// Parser functions that output nothing on a page (`{{DEFAULTSORT:…}}`).
const SILENT_FUNCTIONS: &[&str] = &[
    "defaultsort",
    "defaultsortkey",
    "defaultcategorysort",
    "displaytitle",
];

fn drop_magic_words(t: &str, out: &mut String) {
    let mut rest = t;
    while let Some(p) = rest.find("__") {
        out.push_str(&rest[..p]);
        let after = &rest[p + 2..];
        let word_len = after
            .bytes()
            .take_while(|c| c.is_ascii_alphabetic() || *c == b'_')
            .take(32)
            .count();
        let word = &after[..word_len];
        let found = MAGIC_WORDS.iter().find(|w| {
            word.len() >= w.len() + 2
                && word[..w.len()].eq_ignore_ascii_case(w)
                && &word[w.len()..w.len() + 2] == "__"
        });
        match found {
            Some(w) => rest = &after[w.len() + 2..],
            None => {
                out.push_str("__");
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

fn nowiki_html(t: &str) -> String {
    escape_text(t)
}

fn expand(nodes: &[Node], ctx: &mut Ctx, marks: &mut Markers, out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(t) => drop_magic_words(t, out),
            Node::Nowiki(t) => out.push_str(&marks.add(nowiki_html(t), INLINE)),
            Node::Pre(t) => {
                let body = t.strip_prefix('\n').unwrap_or(t);
                let html = format!("<pre>{}</pre>", nowiki_html(body));
                out.push_str(&marks.add(html, CLOSE));
            }
            Node::Template(t) => expand_template(t, ctx, marks, out),
        }
    }
}

fn expand_template(t: &Template, ctx: &mut Ctx, marks: &mut Markers, out: &mut String) {
    let name = t.name_text();
    if let Some(name) = &name {
        let fname = name.split(':').next().unwrap_or("").trim().to_lowercase();
        if name.contains(':') && SILENT_FUNCTIONS.contains(&fname.as_str()) {
            return;
        }
        if fname == "int" && name.contains(':') {
            let key = name.split_once(':').map_or("", |(_, k)| k.trim());
            out.push_str(&marks.add(escape_text_plain(&message(key)), INLINE));
            return;
        }
        if ctx.known {
            if let Some((html, block)) = known_template(t, ctx) {
                out.push_str(&marks.add(html, block));
                return;
            }
        }
        if let Ok(title) = parse_title_in(name, "", NS_TEMPLATE) {
            if !name.starts_with('#') {
                out.push_str(&marks.add(missing_page_link(ctx.index, &title), INLINE));
                return;
            }
        }
    }
    // Not a valid page name: the call stays as written, its parts expanded.
    out.push_str("{{");
    expand(&t.name, ctx, marks, out);
    for a in &t.args {
        out.push('|');
        if let Some(n) = &a.name {
            expand(n, ctx, marks, out);
            out.push('=');
        }
        expand(&a.value, ctx, marks, out);
    }
    out.push_str("}}");
}

/// MediaWiki's red link to a page that does not exist.
fn missing_page_link(index: &str, title: &Title) -> String {
    let text = title.prefixed_text();
    format!(
        "<a href=\"{}?title={}&amp;action=edit&amp;redlink=1\" class=\"new\" title=\"{} (page does not exist)\">{}</a>",
        escape_attr(index),
        escape_attr(&wfurlencode(&title.prefixed_dbkey())),
        escape_attr(&text),
        escape_text_plain(&text)
    )
}

/// Escapes without decoding character references (for names already decoded).
fn escape_text_plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

// ---------------------------------------------------------------------------------------------
// Known templates

/// A licence a template grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct License {
    /// Lower-case template id (`cc-by-sa-4.0`; the first version of `cc-by-sa-3.0,2.5`).
    pub template: String,
    /// Short name (`CC BY-SA 4.0`, `Public domain`, `GFDL`).
    pub short_name: String,
    /// Full name (`Creative Commons Attribution-Share Alike 4.0`).
    pub usage_terms: String,
    /// The licence text or deed, when there is one.
    pub url: Option<String>,
    /// Whether reusers must credit the author.
    pub attribution_required: bool,
    /// Whether the work is under copyright (false for the public domain and CC0).
    pub copyrighted: bool,
    /// Always false: none of the templates known here is a non-free one.
    pub non_free: bool,
}

fn lic(
    template: &str,
    short: &str,
    terms: &str,
    url: Option<&str>,
    attribution: bool,
    copyrighted: bool,
) -> License {
    License {
        template: template.to_owned(),
        short_name: short.to_owned(),
        usage_terms: terms.to_owned(),
        url: url.map(str::to_owned),
        attribution_required: attribution,
        copyrighted,
        non_free: false,
    }
}

/// The licence of a licence template, by template name (any case, with or without
/// `Template:`); `None` for any other template.
pub fn license(name: &str) -> Option<License> {
    let key = normalize_key(name);
    let key = key.strip_prefix("template:").unwrap_or(&key).trim();
    if let Some(l) = creative_commons(key) {
        return Some(l);
    }
    let pd = |id: &str| {
        Some(lic(
            id,
            "Public domain",
            "Public domain",
            None,
            false,
            false,
        ))
    };
    match key {
        "cc-zero" | "cc0" | "cc-0" | "cc0-1.0" => Some(lic(
            "cc0",
            "CC0",
            "Creative Commons Zero, Public Domain Dedication",
            Some("https://creativecommons.org/publicdomain/zero/1.0"),
            false,
            false,
        )),
        "pd-self" | "pd-old" | "pd-us" | "pd-us-expired" | "pd-us-gov" | "pd-author"
        | "pd-user" | "pd-ineligible" | "pd-textlogo" | "pd-shape" => pd(key),
        k if k
            .strip_prefix("pd-old-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())) =>
        {
            pd(k)
        }
        "gfdl" | "gfdl-self" | "gfdl-user" => Some(lic(
            key,
            "GFDL",
            "GNU Free Documentation License",
            Some("https://www.gnu.org/copyleft/fdl.html"),
            true,
            true,
        )),
        "gfdl-1.2" | "gfdl-1.3" => Some(lic(
            key,
            &format!("GFDL {}", &key[5..]),
            &format!("GNU Free Documentation License {}", &key[5..]),
            Some("https://www.gnu.org/copyleft/fdl.html"),
            true,
            true,
        )),
        "fal" | "free art license" => Some(lic(
            "fal",
            "FAL",
            "Free Art License",
            Some("https://artlibre.org/licence/lal/en/"),
            true,
            true,
        )),
        "gpl" | "gplv2" | "gplv3" => Some(lic(
            key,
            &key.to_uppercase().replace('V', "v"),
            match key {
                "gplv2" => "GNU General Public License version 2",
                "gplv3" => "GNU General Public License version 3",
                _ => "GNU General Public License",
            },
            Some(match key {
                "gplv2" => "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
                _ => "https://www.gnu.org/licenses/gpl.html",
            }),
            true,
            true,
        )),
        "lgpl" | "lgplv2.1" | "lgplv3" => Some(lic(
            key,
            &key.to_uppercase().replace('V', "v"),
            match key {
                "lgplv2.1" => "GNU Lesser General Public License version 2.1",
                "lgplv3" => "GNU Lesser General Public License version 3",
                _ => "GNU Lesser General Public License",
            },
            Some(match key {
                "lgplv2.1" => "https://www.gnu.org/licenses/old-licenses/lgpl-2.1.html",
                _ => "https://www.gnu.org/licenses/lgpl.html",
            }),
            true,
            true,
        )),
        _ => None,
    }
}

/// `cc-by-4.0`, `cc-by-sa-3.0,2.5,2.0,1.0` (first version), `cc-by-sa-3.0-de` (ported).
fn creative_commons(key: &str) -> Option<License> {
    let (kind, rest) = if let Some(r) = key.strip_prefix("cc-by-sa-") {
        ("by-sa", r)
    } else {
        ("by", key.strip_prefix("cc-by-")?)
    };
    let first = rest.split(',').next()?;
    let (version, port) = match first.split_once('-') {
        Some((v, p)) => (v, Some(p)),
        None => (first, None),
    };
    let b = version.as_bytes();
    let version_ok = b.len() == 3 && b[0].is_ascii_digit() && b[1] == b'.' && b[2].is_ascii_digit();
    let port_ok = port.is_none_or(|p| p.len() == 2 && p.bytes().all(|c| c.is_ascii_lowercase()));
    if !version_ok || !port_ok || !matches!(version, "1.0" | "2.0" | "2.1" | "2.5" | "3.0" | "4.0")
    {
        return None;
    }
    let template = match port {
        Some(p) => format!("cc-{kind}-{version}-{p}"),
        None => format!("cc-{kind}-{version}"),
    };
    let short = format!(
        "CC {} {version}{}",
        kind.to_uppercase(),
        port.map(|p| format!(" {p}")).unwrap_or_default()
    );
    let terms = format!(
        "Creative Commons {} {version}{}",
        if kind == "by" {
            "Attribution"
        } else {
            "Attribution-Share Alike"
        },
        port.map(|p| format!(" {p}")).unwrap_or_default()
    );
    let url = format!(
        "https://creativecommons.org/licenses/{kind}/{version}{}",
        port.map(|p| format!("/{p}")).unwrap_or_default()
    );
    Some(License {
        template,
        short_name: short,
        usage_terms: terms,
        url: Some(url),
        attribution_required: true,
        copyrighted: true,
        non_free: false,
    })
}

/// Common language codes of Commons' language templates and their English names.
const LANGUAGES: &[(&str, &str)] = &[
    ("af", "Afrikaans"),
    ("ar", "Arabic"),
    ("ast", "Asturian"),
    ("az", "Azerbaijani"),
    ("be", "Belarusian"),
    ("bg", "Bulgarian"),
    ("bn", "Bangla"),
    ("br", "Breton"),
    ("bs", "Bosnian"),
    ("ca", "Catalan"),
    ("cs", "Czech"),
    ("cy", "Welsh"),
    ("da", "Danish"),
    ("de", "German"),
    ("el", "Greek"),
    ("en", "English"),
    ("eo", "Esperanto"),
    ("es", "Spanish"),
    ("et", "Estonian"),
    ("eu", "Basque"),
    ("fa", "Persian"),
    ("fi", "Finnish"),
    ("fr", "French"),
    ("fy", "Western Frisian"),
    ("ga", "Irish"),
    ("gl", "Galician"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("hr", "Croatian"),
    ("hu", "Hungarian"),
    ("hy", "Armenian"),
    ("id", "Indonesian"),
    ("is", "Icelandic"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("ka", "Georgian"),
    ("kk", "Kazakh"),
    ("ko", "Korean"),
    ("la", "Latin"),
    ("lb", "Luxembourgish"),
    ("lt", "Lithuanian"),
    ("lv", "Latvian"),
    ("mk", "Macedonian"),
    ("ml", "Malayalam"),
    ("mr", "Marathi"),
    ("ms", "Malay"),
    ("nb", "Norwegian Bokmål"),
    ("nds", "Low German"),
    ("nl", "Dutch"),
    ("nn", "Norwegian Nynorsk"),
    ("no", "Norwegian"),
    ("oc", "Occitan"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("pt-br", "Brazilian Portuguese"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("sh", "Serbo-Croatian"),
    ("sk", "Slovak"),
    ("sl", "Slovenian"),
    ("sq", "Albanian"),
    ("sr", "Serbian"),
    ("sv", "Swedish"),
    ("sw", "Swahili"),
    ("ta", "Tamil"),
    ("te", "Telugu"),
    ("th", "Thai"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("ur", "Urdu"),
    ("uz", "Uzbek"),
    ("vi", "Vietnamese"),
    ("yi", "Yiddish"),
    ("zh", "Chinese"),
    ("zh-hans", "Simplified Chinese"),
    ("zh-hant", "Traditional Chinese"),
];

/// Common short template names that are not languages.
const NOT_LANGUAGES: &[&str] = &[
    "tl", "tlx", "tlc", "tnt", "see", "cat", "sic", "ill", "efn", "lit", "cvt", "nbs", "ref",
    "int", "lang", "date", "w", "c",
];

/// Languages written right to left.
const RTL: &[&str] = &[
    "ar", "arz", "ckb", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi",
];

/// The English name of a common language code (`"de"` → `German`).
pub fn language_name(code: &str) -> Option<&'static str> {
    let code = code.to_ascii_lowercase();
    LANGUAGES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
}

/// Whether a template key names another known template (so it is not a language).
fn is_other_known(key: &str) -> bool {
    matches!(key, "own" | "self" | "information")
        || license(key).is_some()
        || restriction(key).is_some()
}

/// The language code a template is a language template for: a code of the table, or any
/// code-shaped name (`xx`, `xxx`, `xx-yyyy`) called with a first argument.
pub fn language_code(t: &Template) -> Option<String> {
    let key = t.key()?;
    if is_other_known(&key) {
        return None;
    }
    if language_name(&key).is_some() {
        return Some(key);
    }
    if NOT_LANGUAGES.contains(&key.as_str()) {
        return None;
    }
    let mut pieces = key.split('-');
    let base = pieces.next()?;
    let shaped = (2..=3).contains(&base.len())
        && base.bytes().all(|c| c.is_ascii_lowercase())
        && pieces
            .all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_alphanumeric()));
    (shaped && t.arg("1").is_some()).then_some(key)
}

/// The Commons restriction id of a restriction template (`{{Trademarked}}` →
/// `trademarked`, `{{Personality rights}}` → `personality`, `{{Insignia}}` → `insignia`).
pub fn restriction(name: &str) -> Option<&'static str> {
    let key = normalize_key(name);
    let key = key.strip_prefix("template:").unwrap_or(&key).trim();
    match key {
        "trademarked" | "trademark" => Some("trademarked"),
        "personality rights" | "personality" | "personality rights warning" => Some("personality"),
        "insignia" => Some("insignia"),
        _ => None,
    }
}

/// Renders an argument value for a known template's block.
fn render_value(nodes: &[Node], ctx: &mut Ctx) -> String {
    if ctx.depth >= MAX_RENDER_DEPTH {
        return escape_text_plain(&source(nodes));
    }
    ctx.depth += 1;
    let html = render_nodes(nodes, ctx, false);
    ctx.depth -= 1;
    html
}

fn license_box(l: &License, attribution: Option<String>) -> String {
    let mut html = format!(
        "<div class=\"licensetpl licensetpl-{}\" lang=\"en\" dir=\"ltr\"><b class=\"licensetpl_short\">{}</b>",
        escape_attr(&l.template),
        escape_text_plain(&l.short_name)
    );
    if let Some(url) = &l.url {
        html.push_str(&format!(
            ": <a rel=\"nofollow\" class=\"external text\" href=\"{}\">{}</a>",
            escape_attr(url),
            escape_text_plain(&l.usage_terms)
        ));
    }
    if let Some(a) = attribution.filter(|a| !a.is_empty()) {
        html.push_str(&format!(
            "<br /><span class=\"licensetpl_attr\">Attribution: {a}</span>"
        ));
    }
    html.push_str("</div>");
    html
}

/// The block of a template this module knows, or `None`.
fn known_template(t: &Template, ctx: &mut Ctx) -> Option<(String, Block)> {
    let key = t.key()?;
    if key == "information" {
        return Some((information_box(t, ctx), CLOSE));
    }
    if key == "own" {
        return Some((
            "<span class=\"int-own-work\" lang=\"en\">Own work</span>".into(),
            INLINE,
        ));
    }
    if let Some(l) = license(&key) {
        let attribution = t.arg("attribution").map(|v| render_value(v, ctx));
        return Some((license_box(&l, attribution), CLOSE));
    }
    if key == "self" {
        let mut html = String::from(
            "<div class=\"licensetpl-self\" lang=\"en\" dir=\"ltr\">I, the copyright holder of this work, hereby publish it under the following license:",
        );
        let attribution = t
            .arg("attribution")
            .or_else(|| t.arg("author"))
            .map(|v| render_value(v, ctx));
        for value in t.positional() {
            if let Some(l) = plain_text(value).and_then(|name| license(&name)) {
                html.push_str(&license_box(&l, None));
            }
        }
        if let Some(a) = attribution.filter(|a| !a.is_empty()) {
            html.push_str(&format!(
                "<span class=\"licensetpl_attr\">Attribution: {a}</span>"
            ));
        }
        html.push_str("</div>");
        return Some((html, CLOSE));
    }
    if let Some(id) = restriction(&key) {
        let text = match id {
            "trademarked" => "<b>Trademarked:</b> this work contains material that may be protected as a trademark.",
            "personality" => "<b>Personality rights:</b> this work depicts an identifiable person.",
            _ => "<b>Insignia:</b> this work depicts an official insignia.",
        };
        return Some((
            format!(
                "<div class=\"restriction restriction-{id}\" lang=\"en\" dir=\"ltr\">{text}</div>"
            ),
            CLOSE,
        ));
    }
    let code = language_code(t)?;
    let value = t.arg("1").map(|v| render_value(v, ctx)).unwrap_or_default();
    let name = language_name(&code).unwrap_or(&code).to_owned();
    let base = code.split('-').next().unwrap_or(&code);
    let dir = if RTL.contains(&base) { "rtl" } else { "ltr" };
    let code = escape_attr(&code);
    Some((
        format!(
            "<div class=\"description mw-content-{dir} {code}\" lang=\"{code}\" dir=\"{dir}\"><span class=\"language {code}\"><b>{}:</b></span> {value}</div>",
            escape_text_plain(&name)
        ),
        CLOSE,
    ))
}

/// `{{Information}}` as a two-column table.
fn information_box(t: &Template, ctx: &mut Ctx) -> String {
    const ROWS: &[(&str, &[&str], &str, bool)] = &[
        ("Description", &["description"], "description", true),
        ("Date", &["date"], "date", true),
        ("Source", &["source"], "source", true),
        ("Author", &["author"], "author", true),
        ("Permission", &["permission"], "permission", false),
        (
            "Other versions",
            &["other versions", "other_versions"],
            "other-versions",
            false,
        ),
    ];
    let mut html = String::from("<table class=\"fileinfotpl-type-information\"><tbody>");
    for (label, names, class, always) in ROWS {
        let value = names
            .iter()
            .find_map(|n| t.arg(n))
            .map(|v| render_value(v, ctx))
            .unwrap_or_default();
        if value.is_empty() && !always {
            continue;
        }
        html.push_str(&format!(
            "\n<tr><td class=\"fileinfo-paramfield\" lang=\"en\">{label}</td><td class=\"fileinfo-{class}\">{value}</td></tr>"
        ));
    }
    html.push_str("</tbody></table>");
    html
}

// ---------------------------------------------------------------------------------------------
// HTML tags

/// Tags kept from the page text (MediaWiki allows more; these are the safe, common ones).
const ALLOWED_TAGS: &[&str] = &[
    "b",
    "i",
    "u",
    "s",
    "del",
    "ins",
    "small",
    "big",
    "sub",
    "sup",
    "code",
    "tt",
    "br",
    "span",
    "div",
    "p",
    "blockquote",
    "em",
    "strong",
    "abbr",
    "q",
    "cite",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "hr",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
];

const VOID_TAGS: &[&str] = &["br", "hr", "wbr", "img"];

fn tag_block(name: &str, closing: bool) -> Block {
    let heading = name.len() == 2 && name.starts_with('h') && name.as_bytes()[1].is_ascii_digit();
    let open = match closing {
        false => {
            heading
                || matches!(
                    name,
                    "table" | "pre" | "tr" | "p" | "ul" | "ol" | "dl" | "li"
                )
        }
        true => matches!(name, "tr" | "td" | "th"),
    };
    let close = match closing {
        false => matches!(name, "td" | "th" | "div" | "blockquote" | "hr" | "center"),
        true => {
            heading
                || matches!(
                    name,
                    "table"
                        | "div"
                        | "blockquote"
                        | "pre"
                        | "p"
                        | "li"
                        | "ul"
                        | "ol"
                        | "dl"
                        | "center"
                )
        }
    };
    Block { open, close }
}

/// Attributes kept on whitelisted tags, values checked and escaped.
fn clean_attrs(raw: &str) -> String {
    let mut out = String::new();
    let b = raw.as_bytes();
    let mut i = 0;
    let mut seen: Vec<String> = Vec::new();
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'/') {
            i += 1;
        }
        let name = raw[start..i].to_ascii_lowercase();
        if name.is_empty() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let mut value = String::new();
        if j < b.len() && b[j] == b'=' {
            j += 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
                let q = b[j];
                let vstart = j + 1;
                let vend = raw[vstart..]
                    .bytes()
                    .position(|c| c == q)
                    .map_or(raw.len(), |p| vstart + p);
                value = raw[vstart..vend].to_owned();
                j = (vend + 1).min(raw.len());
            } else {
                let vstart = j;
                while j < b.len() && !b[j].is_ascii_whitespace() {
                    j += 1;
                }
                value = raw[vstart..j].to_owned();
            }
            i = j;
        }
        if seen.contains(&name) || value.contains(MARK) {
            continue;
        }
        let value = decode(&value);
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        let keep = match name.as_str() {
            "class" | "title" => true,
            "lang" => {
                !value.is_empty()
                    && value.len() <= 35
                    && value
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-')
            }
            "dir" => matches!(value.to_ascii_lowercase().as_str(), "ltr" | "rtl" | "auto"),
            _ => false,
        };
        if keep {
            let value = if name == "dir" {
                value.to_ascii_lowercase()
            } else {
                value
            };
            out.push_str(&format!(" {name}=\"{}\"", escape_attr(&value)));
            seen.push(name);
        }
    }
    out
}

/// Whitelisted tags become markers, balanced over the whole text: a closing tag closes the
/// tags opened after its own; a closing tag with no open one stays text (escaped), as do
/// all other tags. Tags still open at the end are closed there.
fn sanitize_tags(s: &str, marks: &mut Markers) -> String {
    let mut out = String::with_capacity(s.len());
    let mut open: Vec<&'static str> = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    let mut run = 0;
    while let Some(p) = s[i..].find('<') {
        let lt = i + p;
        i = lt + 1;
        let closing = b.get(lt + 1) == Some(&b'/');
        let name_start = lt + 1 + usize::from(closing);
        let name_len = b[name_start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if name_len == 0 || !b[name_start].is_ascii_alphabetic() {
            continue;
        }
        let after = name_start + name_len;
        if b.get(after)
            .is_some_and(|c| !(c.is_ascii_whitespace() || *c == b'/' || *c == b'>'))
        {
            continue;
        }
        let Some(end) = s[after..].find(['>', '<']).map(|q| after + q) else {
            continue;
        };
        if b[end] != b'>' {
            continue;
        }
        let lname = s[name_start..after].to_ascii_lowercase();
        let Some(name) = ALLOWED_TAGS.iter().copied().find(|t| *t == lname) else {
            continue;
        };
        let attrs = &s[after..end];
        let void = VOID_TAGS.contains(&name);
        let html = if void {
            // `<br>`, `<br/>`, `</br>` alike.
            Some((
                format!(
                    "<{name}{} />",
                    if closing {
                        String::new()
                    } else {
                        clean_attrs(attrs)
                    }
                ),
                tag_block(name, false),
            ))
        } else if closing {
            open.iter().rposition(|t| *t == name).map(|pos| {
                let mut html = String::new();
                for t in open.drain(pos..).rev() {
                    html.push_str(&format!("</{t}>"));
                }
                (html, tag_block(name, true))
            })
        } else if attrs.trim_end().ends_with('/') {
            Some((
                format!("<{name}{}></{name}>", clean_attrs(attrs)),
                tag_block(name, false),
            ))
        } else if open.len() < MAX_OPEN_TAGS {
            open.push(name);
            Some((
                format!("<{name}{}>", clean_attrs(attrs)),
                tag_block(name, false),
            ))
        } else {
            None
        };
        if let Some((html, block)) = html {
            out.push_str(&s[run..lt]);
            out.push_str(&marks.add(html, block));
            i = end + 1;
            run = i;
        }
    }
    out.push_str(&s[run..]);
    for t in open.into_iter().rev() {
        out.push_str(&marks.add(format!("</{t}>"), tag_block(t, true)));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Links

/// Sorted positions of `[[` and `]]` in a text, for linear-time matching.
struct Brackets {
    opens: Vec<usize>,
    closes: Vec<usize>,
    /// Positions of `]` and of control characters, which end an external link's text.
    stops: Vec<usize>,
}

impl Brackets {
    fn new(s: &str) -> Self {
        let b = s.as_bytes();
        let mut opens = Vec::new();
        let mut closes = Vec::new();
        let mut stops = Vec::new();
        for (k, &c) in b.iter().enumerate() {
            if c == b'[' && b.get(k + 1) == Some(&b'[') {
                opens.push(k);
            }
            if c == b']' {
                stops.push(k);
                if b.get(k + 1) == Some(&b']') {
                    closes.push(k);
                }
            } else if c < 0x20 && c != b'\t' {
                stops.push(k);
            }
        }
        Brackets {
            opens,
            closes,
            stops,
        }
    }

    fn next(v: &[usize], from: usize) -> Option<usize> {
        v.get(v.partition_point(|&p| p < from)).copied()
    }

    /// The `]]` that closes a link opened at `i`, unless another `[[` comes first.
    fn link_close(&self, i: usize) -> Option<usize> {
        let close = Brackets::next(&self.closes, i + 2)?;
        match Brackets::next(&self.opens, i + 2) {
            Some(o) if o < close => None,
            _ => Some(close),
        }
    }
}

enum LinkTarget {
    Page {
        title: Title,
        fragment: Option<String>,
    },
    Anchor(String),
    Category(Title),
}

fn resolve_link(target: &str) -> Option<LinkTarget> {
    let t = target.trim();
    if t.contains(['\n', MARK]) {
        return None;
    }
    if let Some(frag) = t.strip_prefix('#') {
        return (!frag.trim().is_empty()).then(|| LinkTarget::Anchor(frag.trim().to_owned()));
    }
    let (forced, t) = match t.strip_prefix(':') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, t),
    };
    let (page, fragment) = match t.split_once('#') {
        Some((p, f)) => (p, Some(f.trim().to_owned()).filter(|f| !f.is_empty())),
        None => (t, None),
    };
    let title = parse_title_in(page, "", NS_MAIN).ok()?;
    if !forced && title.ns == NS_CATEGORY {
        return Some(LinkTarget::Category(title));
    }
    let title = if title.ns == NS_MEDIA {
        Title::file(title.dbkey)
    } else {
        title
    };
    Some(LinkTarget::Page { title, fragment })
}

/// A fragment as an anchor: spaces as underscores, escaped for an attribute by the caller.
fn anchor(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join("_")
}

fn page_href(index: &str, title: &Title, fragment: Option<&str>) -> String {
    let mut href = format!("{index}?title={}", wfurlencode(&title.prefixed_dbkey()));
    if let Some(f) = fragment {
        href.push('#');
        href.push_str(&anchor(&decode(f)).replace('%', "%25"));
    }
    href
}

/// Whether a `[[File:…]]` parameter is an image option rather than a caption.
fn is_image_option(p: &str) -> bool {
    let p = p.trim().to_ascii_lowercase();
    let size = p
        .strip_suffix("px")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit() || c == b'x'));
    size || matches!(
        p.as_str(),
        "thumb"
            | "thumbnail"
            | "frame"
            | "framed"
            | "enframed"
            | "frameless"
            | "border"
            | "left"
            | "right"
            | "center"
            | "centre"
            | "none"
            | "upright"
            | "baseline"
            | "sub"
            | "super"
            | "top"
            | "text-top"
            | "middle"
            | "bottom"
            | "text-bottom"
    ) || [
        "upright",
        "link=",
        "alt=",
        "page=",
        "lang=",
        "class=",
        "thumbtime=",
        "start=",
        "end=",
    ]
    .iter()
    .any(|o| p.starts_with(o))
}

/// Categories taken out of the text (MediaWiki removes the white space before them too).
fn extract_categories(s: &str, ctx: &mut Ctx) -> String {
    let br = Brackets::new(s);
    let mut out = String::with_capacity(s.len());
    let mut run = 0;
    for &i in &br.opens {
        if i < run || s.as_bytes().get(i + 2) == Some(&b'[') {
            continue;
        }
        let Some(close) = br.link_close(i) else {
            continue;
        };
        let inner = &s[i + 2..close];
        let target = inner.split('|').next().unwrap_or("");
        if let Some(LinkTarget::Category(title)) = resolve_link(target) {
            out.push_str(&s[run..i]);
            out.truncate(out.trim_end().len());
            add_category(ctx, title.text());
            run = close + 2;
        }
    }
    out.push_str(&s[run..]);
    out
}

fn add_category(ctx: &mut Ctx, name: String) {
    if !ctx.categories.contains(&name) {
        ctx.categories.push(name);
    }
}

/// The protocols of external links; `//` only in brackets.
fn protocol_len(s: &str, bracketed: bool) -> Option<usize> {
    for p in ["http://", "https://", "ftp://", "mailto:"] {
        if s.len() >= p.len() && s.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes()) {
            return Some(p.len());
        }
    }
    (bracketed && s.starts_with("//")).then_some(2)
}

/// Where the URL characters starting at `from` end.
fn url_end(s: &str, from: usize) -> usize {
    let mut end = from;
    for (k, c) in s[from..].char_indices() {
        let ok = match c {
            '[' | ']' | '<' | '>' | '"' | '\u{7f}' | '\u{fffd}' => false,
            c if (c as u32) <= 0x20 => false,
            '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}' => false,
            _ => true,
        };
        if !ok {
            break;
        }
        end = from + k + c.len_utf8();
    }
    end
}

fn ext_link_open(class: &str, url: &str) -> String {
    format!(
        "<a rel=\"nofollow\" class=\"external {class}\" href=\"{}\">",
        escape_attr(&decode(url))
    )
}

// ---------------------------------------------------------------------------------------------
// Inline text: links, bold and italic, escaping

enum Tok {
    /// Page text, escaped when written.
    Text(String),
    /// Finished HTML (tags of ours, markers).
    Html(String),
    /// A run of 2, 3 or 5 apostrophes.
    Quote(usize),
}

struct Inline<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    toks: Vec<Tok>,
}

impl Inline<'_, '_> {
    fn text(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Tok::Text(t)) = self.toks.last_mut() {
            t.push_str(s);
        } else {
            self.toks.push(Tok::Text(s.to_owned()));
        }
    }

    /// Tokenizes `s`; `links` is false inside link texts.
    fn run(&mut self, s: &str, links: bool) {
        let br = Brackets::new(s);
        let b = s.as_bytes();
        let mut i = 0;
        let mut run = 0;
        while i < b.len() {
            let c = b[i];
            if c == 0x7f {
                // A marker: kept whole.
                if let Some((len, _)) = Markers::at(&s[i..]) {
                    self.text(&s[run..i]);
                    self.toks.push(Tok::Html(s[i..i + len].to_owned()));
                    i += len;
                    run = i;
                    continue;
                }
                i += 1;
                continue;
            }
            if c == b'\'' && b.get(i + 1) == Some(&b'\'') {
                let n = b[i..].iter().take_while(|&&x| x == b'\'').count();
                self.text(&s[run..i]);
                match n {
                    2 | 3 | 5 => self.toks.push(Tok::Quote(n)),
                    4 => {
                        self.text("'");
                        self.toks.push(Tok::Quote(3));
                    }
                    _ => {
                        self.text(&s[i..i + n - 5]);
                        self.toks.push(Tok::Quote(5));
                    }
                }
                i += n;
                run = i;
                continue;
            }
            if links && c == b'[' {
                if b.get(i + 1) == Some(&b'[') {
                    if b.get(i + 2) != Some(&b'[') {
                        if let Some(end) = self.internal_link(s, i, &br, run) {
                            i = end;
                            run = i;
                            continue;
                        }
                    }
                } else if let Some(end) = self.external_link(s, i, &br, run) {
                    i = end;
                    run = i;
                    continue;
                }
            }
            if links && matches!(c, b'h' | b'H' | b'f' | b'F' | b'm' | b'M') {
                let boundary = s[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|p| !(p.is_alphanumeric() || p == '_'));
                if boundary {
                    if let Some(end) = self.free_link(s, i, run) {
                        i = end;
                        run = i;
                        continue;
                    }
                }
            }
            i += 1;
        }
        self.text(&s[run..]);
    }

    /// `[[target|text]]trail` at `i`; the position after it, or `None` if it is no link.
    fn internal_link(&mut self, s: &str, i: usize, br: &Brackets, run: usize) -> Option<usize> {
        let close = br.link_close(i)?;
        let inner = &s[i + 2..close];
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (inner, None),
        };
        let resolved = resolve_link(target)?;
        let trail_len = s[close + 2..]
            .bytes()
            .take_while(|c| c.is_ascii_lowercase())
            .count();
        let end = close + 2 + trail_len;
        let trail = &s[close + 2..end];
        self.text(&s[run..i]);
        let display_default = target.trim().trim_start_matches(':').trim();
        let (open, label_src): (String, Option<&str>) = match resolved {
            LinkTarget::Category(title) => {
                add_category(self.ctx, title.text());
                return Some(close + 2);
            }
            LinkTarget::Anchor(frag) => (
                format!("<a href=\"#{}\">", escape_attr(&anchor(&frag))),
                label,
            ),
            LinkTarget::Page { title, fragment } => {
                let is_file = title.ns == NS_FILE && !target.trim_start().starts_with(':');
                let label = if is_file {
                    label.and_then(|l| {
                        l.split('|')
                            .rev()
                            .find(|p| !is_image_option(p) && !p.trim().is_empty())
                    })
                } else {
                    label
                };
                (
                    format!(
                        "<a href=\"{}\" title=\"{}\">",
                        escape_attr(&page_href(self.ctx.index, &title, fragment.as_deref())),
                        escape_attr(&title.prefixed_text())
                    ),
                    label,
                )
            }
        };
        self.toks.push(Tok::Html(open));
        match label_src.filter(|l| !l.is_empty()) {
            Some(l) => self.run(l, false),
            None => self.text(display_default),
        }
        self.text(trail);
        self.toks.push(Tok::Html("</a>".into()));
        Some(end)
    }

    /// `[url text]` at `i`.
    fn external_link(&mut self, s: &str, i: usize, br: &Brackets, run: usize) -> Option<usize> {
        let url_start = i + 1;
        let proto = protocol_len(&s[url_start..], true)?;
        let end = url_end(s, url_start + proto);
        if end == url_start + proto {
            return None;
        }
        let url = &s[url_start..end];
        let text_start = end + s[end..].len() - s[end..].trim_start_matches(' ').len();
        let stop = Brackets::next(&br.stops, text_start)?;
        if s.as_bytes()[stop] != b']' {
            return None;
        }
        let label = &s[text_start..stop];
        self.text(&s[run..i]);
        if label.is_empty() {
            self.ctx.autonumber += 1;
            let n = self.ctx.autonumber;
            self.toks.push(Tok::Html(format!(
                "{}[{n}]</a>",
                ext_link_open("autonumber", url)
            )));
        } else {
            self.toks.push(Tok::Html(ext_link_open("text", url)));
            self.run(label, false);
            self.toks.push(Tok::Html("</a>".into()));
        }
        Some(stop + 1)
    }

    /// A bare URL at `i`.
    fn free_link(&mut self, s: &str, i: usize, run: usize) -> Option<usize> {
        let proto = protocol_len(&s[i..], false)?;
        let mut end = url_end(s, i + proto);
        let url = &s[i..end];
        let seps: &[char] = if url.contains('(') {
            &[',', ';', '.', ':', '!', '?']
        } else {
            &[',', ';', '.', ':', '!', '?', ')']
        };
        end -= url.len() - url.trim_end_matches(seps).len();
        if end <= i + proto {
            return None;
        }
        let url = &s[i..end];
        self.text(&s[run..i]);
        self.toks.push(Tok::Html(ext_link_open("free", url)));
        self.toks.push(Tok::Text(url.to_owned()));
        self.toks.push(Tok::Html("</a>".into()));
        Some(end)
    }
}

/// With an odd number of both bold and italic runs, one bold run was meant as an apostrophe
/// and italics: the first after a one-letter word, else after a longer word, else after a
/// space.
fn fix_odd_quotes(toks: &mut Vec<Tok>) {
    let (mut italic, mut bold) = (0, 0);
    for t in toks.iter() {
        match t {
            Tok::Quote(2) => italic += 1,
            Tok::Quote(3) => bold += 1,
            Tok::Quote(5) => {
                italic += 1;
                bold += 1;
            }
            _ => {}
        }
    }
    if italic % 2 == 0 || bold % 2 == 0 {
        return;
    }
    let (mut x1, mut x2) = (' ', ' ');
    let (mut single, mut multi, mut space) = (None, None, None);
    for (k, t) in toks.iter().enumerate() {
        match t {
            Tok::Quote(3) => {
                if x1 == ' ' {
                    space.get_or_insert(k);
                } else if x2 == ' ' {
                    single = Some(k);
                    break;
                } else {
                    multi.get_or_insert(k);
                }
            }
            Tok::Text(s) => {
                for c in s.chars() {
                    x2 = x1;
                    x1 = c;
                }
            }
            Tok::Html(_) | Tok::Quote(_) => {
                x2 = x1;
                x1 = '>';
            }
        }
    }
    if let Some(k) = single.or(multi).or(space) {
        toks[k] = Tok::Quote(2);
        toks.insert(k, Tok::Text("'".into()));
    }
}

/// Writes tokens as HTML, turning apostrophe runs into `<b>` and `<i>`.
fn emit(mut toks: Vec<Tok>) -> String {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum S {
        Plain,
        I,
        B,
        /// `<i><b>`.
        IB,
        /// `<b><i>`.
        BI,
        /// `'''''` seen, order not known yet: output buffered.
        Both,
    }
    fix_odd_quotes(&mut toks);
    let mut out = String::new();
    let mut buf = String::new();
    let mut st = S::Plain;
    for t in toks {
        match t {
            Tok::Text(s) => push_text(if st == S::Both { &mut buf } else { &mut out }, &s),
            Tok::Html(h) => (if st == S::Both { &mut buf } else { &mut out }).push_str(&h),
            Tok::Quote(n) => {
                let (html, next): (String, S) = match (n, st) {
                    (2, S::I) => ("</i>".into(), S::Plain),
                    (2, S::BI) => ("</i>".into(), S::B),
                    (2, S::IB) => ("</b></i><b>".into(), S::B),
                    (2, S::Both) => (format!("<b><i>{buf}</i>"), S::B),
                    (2, S::B) => ("<i>".into(), S::BI),
                    (2, S::Plain) => ("<i>".into(), S::I),
                    (3, S::B) => ("</b>".into(), S::Plain),
                    (3, S::BI) => ("</i></b><i>".into(), S::I),
                    (3, S::IB) => ("</b>".into(), S::I),
                    (3, S::Both) => (format!("<i><b>{buf}</b>"), S::I),
                    (3, S::I) => ("<b>".into(), S::IB),
                    (3, S::Plain) => ("<b>".into(), S::B),
                    (_, S::B) => ("</b><i>".into(), S::I),
                    (_, S::I) => ("</i><b>".into(), S::B),
                    (_, S::BI) => ("</i></b>".into(), S::Plain),
                    (_, S::IB) => ("</b></i>".into(), S::Plain),
                    (_, S::Both) => (format!("<i><b>{buf}</b></i>"), S::Plain),
                    (_, S::Plain) => (String::new(), S::Both),
                };
                if st == S::Both {
                    buf.clear();
                }
                out.push_str(&html);
                st = next;
            }
        }
    }
    match st {
        S::B => out.push_str("</b>"),
        S::I => out.push_str("</i>"),
        S::BI => out.push_str("</i></b>"),
        S::IB => out.push_str("</b></i>"),
        S::Both => out.push_str(&format!("<b><i>{buf}</i></b>")),
        S::Plain => {}
    }
    out
}

/// One line of text as HTML (markers left in place).
fn inline(s: &str, ctx: &mut Ctx) -> String {
    let mut il = Inline {
        ctx,
        toks: Vec::new(),
    };
    il.run(s, true);
    emit(il.toks)
}

// ---------------------------------------------------------------------------------------------
// Tables

#[derive(Default)]
struct TableState {
    tbody: bool,
    row: bool,
    cell: Option<&'static str>,
}

impl TableState {
    fn close_cell(&mut self, marks: &mut Markers, out: &mut String) {
        if let Some(c) = self.cell.take() {
            let block = if c == "caption" { INLINE } else { OPEN };
            out.push_str(&marks.add(format!("</{c}>"), block));
        }
    }

    fn close_row(&mut self, marks: &mut Markers, out: &mut String) {
        self.close_cell(marks, out);
        if self.row {
            self.row = false;
            out.push_str(&marks.add("</tr>".into(), OPEN));
        }
    }

    fn open_row(&mut self, marks: &mut Markers, out: &mut String) {
        if !self.row {
            let html = if self.tbody {
                "<tr>".to_owned()
            } else {
                self.tbody = true;
                "<tbody><tr>".to_owned()
            };
            out.push_str(&marks.add(html, OPEN));
            self.row = true;
        }
    }

    fn close(mut self, marks: &mut Markers, out: &mut String) {
        self.close_row(marks, out);
        let html = if self.tbody {
            "</tbody></table>"
        } else {
            "</table>"
        };
        out.push_str(&marks.add(html.into(), CLOSE));
    }
}

/// A cell's content without its attributes (`style="…" | text` → `text`).
fn cell_content(cell: &str) -> &str {
    match cell.split_once('|') {
        Some((attrs, content)) if !attrs.contains("[[") => content,
        _ => cell,
    }
}

/// Table syntax as markers, lines kept (cell contents stay wikitext for the line pass).
fn tables(s: &str, marks: &mut Markers) -> String {
    if !s.contains("{|") {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut stack: Vec<TableState> = Vec::new();
    for (n, line) in s.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let t = line.trim();
        if t.starts_with("{|") && stack.len() < MAX_TABLE_DEPTH {
            if let Some(outer) = stack.last_mut() {
                if outer.cell.is_none() {
                    outer.open_row(marks, &mut out);
                    out.push_str(&marks.add("<td>".into(), CLOSE));
                    outer.cell = Some("td");
                }
            }
            out.push_str(&marks.add("<table class=\"wikitable\">".into(), OPEN));
            stack.push(TableState::default());
            continue;
        }
        let Some(table) = stack.last_mut() else {
            out.push_str(line);
            continue;
        };
        if let Some(rest) = t.strip_prefix("|}") {
            if let Some(table) = stack.pop() {
                table.close(marks, &mut out);
            }
            out.push_str(rest);
        } else if t.starts_with("|-") {
            table.close_row(marks, &mut out);
        } else if let Some(rest) = t.strip_prefix("|+") {
            table.close_cell(marks, &mut out);
            out.push_str(&marks.add("<caption>".into(), INLINE));
            out.push_str(cell_content(rest));
            table.cell = Some("caption");
        } else if t.starts_with('|') || t.starts_with('!') {
            let header = t.starts_with('!');
            let body = &t[1..];
            let cells: Vec<&str> = if header {
                body.split("!!").flat_map(|c| c.split("||")).collect()
            } else {
                body.split("||").collect()
            };
            let tag = if header { "th" } else { "td" };
            for cell in cells {
                table.close_cell(marks, &mut out);
                table.open_row(marks, &mut out);
                out.push_str(&marks.add(format!("<{tag}>"), CLOSE));
                out.push_str(cell_content(cell));
                table.cell = Some(tag);
            }
        } else {
            out.push_str(t);
        }
    }
    while let Some(table) = stack.pop() {
        table.close(marks, &mut out);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Lines: headings, lists, paragraphs

/// `== text ==` → level and inner text.
fn heading(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_end();
    let lead = t.bytes().take_while(|&c| c == b'=').count();
    if lead == 0 {
        return None;
    }
    let trail = t.bytes().rev().take_while(|&c| c == b'=').count();
    let level = lead.min(trail).min(6).min(t.len().saturating_sub(1) / 2);
    if level == 0 {
        return None;
    }
    let inner = &t[level..t.len() - level];
    (!inner.is_empty()).then_some((level, inner.trim()))
}

/// Text of our own HTML: tags removed, character references decoded.
fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode(&out)
}

/// The list item that is open at one level.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Item {
    Li,
    Dt,
    Dd,
}

struct Lists {
    /// Per level: the list character (`*`, `#`, or `:` for both `;` and `:`) and open item.
    levels: Vec<(u8, Item)>,
}

impl Lists {
    fn close_level(&mut self, out: &mut String) {
        if let Some((c, item)) = self.levels.pop() {
            out.push_str(match item {
                Item::Li => "</li>",
                Item::Dt => "</dt>",
                Item::Dd => "</dd>",
            });
            out.push_str(match c {
                b'*' => "</ul>",
                b'#' => "</ol>",
                _ => "</dl>",
            });
        }
    }

    fn open_level(&mut self, c: u8, out: &mut String) {
        let (html, key, item) = match c {
            b'*' => ("<ul><li>", b'*', Item::Li),
            b'#' => ("<ol><li>", b'#', Item::Li),
            b';' => ("<dl><dt>", b':', Item::Dt),
            _ => ("<dl><dd>", b':', Item::Dd),
        };
        out.push_str(html);
        self.levels.push((key, item));
    }

    fn next_item(&mut self, c: u8, out: &mut String) {
        if let Some(level) = self.levels.last_mut() {
            let close = match level.1 {
                Item::Li => "</li>",
                Item::Dt => "</dt>",
                Item::Dd => "</dd>",
            };
            let (open, item) = match c {
                b'*' | b'#' => ("<li>", Item::Li),
                b';' => ("<dt>", Item::Dt),
                _ => ("<dd>", Item::Dd),
            };
            out.push_str(close);
            out.push('\n');
            out.push_str(open);
            level.1 = item;
        }
    }
}

/// The first `:` of a `;term:definition` line outside links, markers and `://`.
fn definition_colon(t: &str) -> Option<usize> {
    let b = t.as_bytes();
    let mut depth = 0usize;
    let mut in_mark = false;
    let mut k = 0;
    while k < b.len() {
        match b[k] {
            0x7f => in_mark = !in_mark,
            b'[' if !in_mark && b.get(k + 1) == Some(&b'[') => {
                depth += 1;
                k += 1;
            }
            b']' if !in_mark && b.get(k + 1) == Some(&b']') => {
                depth = depth.saturating_sub(1);
                k += 1;
            }
            b':' if !in_mark && depth == 0 && !t[k + 1..].starts_with("//") => return Some(k),
            _ => {}
        }
        k += 1;
    }
    None
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Para {
    None,
    P,
    Pre,
}

/// The line pass: headings, `----`, lists, paragraphs and indented `<pre>`, each line's
/// text through [`inline`]. Without `paragraphs` there are no `<p>` and no indented pre.
fn blocks(s: &str, ctx: &mut Ctx, marks: &mut Markers, paragraphs: bool) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    let mut lists = Lists { levels: Vec::new() };
    let mut last = Para::None;
    let mut pending: Option<&'static str> = None;
    let mut in_block = false;
    let close_para = |last: &mut Para, out: &mut String| {
        match last {
            Para::P => out.push_str("</p>\n"),
            Para::Pre => out.push_str("</pre>\n"),
            Para::None => {}
        }
        *last = Para::None;
    };
    for raw in s.split('\n') {
        let mut line = std::borrow::Cow::Borrowed(raw);
        // Headings and rules become markers first.
        if let Some((level, inner)) = heading(raw) {
            let inner_html = marks.unstrip(&inline(inner, ctx));
            let text = html_to_text(&inner_html);
            let mut id = anchor(&text.replace('_', " "));
            if ctx.heading_ids.contains(&id) {
                let mut k = ctx.heading_next.get(&id).copied().unwrap_or(2);
                while ctx.heading_ids.contains(&format!("{id}_{k}")) {
                    k += 1;
                }
                ctx.heading_next.insert(id.clone(), k + 1);
                id = format!("{id}_{k}");
            }
            ctx.heading_ids.insert(id.clone());
            let html = format!(
                "<h{level}><span class=\"mw-headline\" id=\"{}\">{inner_html}</span></h{level}>",
                escape_attr(&id)
            );
            line = marks.add(html, CLOSE).into();
        } else if raw.starts_with("----") {
            let rest = raw.trim_start_matches('-');
            line = format!("{}{rest}", marks.add("<hr />".into(), CLOSE)).into();
        }
        let prefix_len = line
            .bytes()
            .take_while(|c| matches!(c, b'*' | b'#' | b':' | b';'))
            .take(MAX_LIST_DEPTH)
            .count();
        let (prefix, t) = line.split_at(prefix_len);
        let prefix = prefix.as_bytes();
        if prefix_len > 0 || !lists.levels.is_empty() {
            if prefix_len > 0 {
                pending = None;
                close_para(&mut last, &mut out);
            }
            let key = |c: u8| if c == b';' { b':' } else { c };
            let common = lists
                .levels
                .iter()
                .zip(prefix)
                .take_while(|((have, _), &want)| *have == key(want))
                .count();
            let had_lists = !lists.levels.is_empty();
            while lists.levels.len() > common {
                lists.close_level(&mut out);
            }
            if prefix_len == 0 {
                out.push('\n');
            } else {
                if prefix_len == common {
                    lists.next_item(prefix[common - 1], &mut out);
                } else if had_lists {
                    out.push('\n');
                }
                for &c in &prefix[common..] {
                    lists.open_level(c, &mut out);
                }
                let mut text = t.trim_start_matches([' ', '\t']);
                let last_char = prefix[prefix_len - 1];
                if last_char == b';' {
                    if let Some(colon) = definition_colon(text) {
                        out.push_str(&inline(text[..colon].trim_end(), ctx));
                        lists.next_item(b':', &mut out);
                        text = text[colon + 1..].trim_start_matches([' ', '\t']);
                    }
                }
                out.push_str(&inline(text, ctx));
                continue;
            }
        }
        let mut t: &str = &line;
        let block = marks.block_of(t);
        if !paragraphs {
            out.push_str(&inline(t, ctx));
            out.push('\n');
            continue;
        }
        if block.open || block.close {
            pending = None;
            close_para(&mut last, &mut out);
            in_block = !block.close;
        } else if !in_block {
            if t.starts_with(' ') && (last == Para::Pre || !t.trim().is_empty()) {
                if last != Para::Pre {
                    pending = None;
                    close_para(&mut last, &mut out);
                    out.push_str("<pre>");
                    last = Para::Pre;
                }
                t = &t[1..];
            } else if t.trim().is_empty() {
                if let Some(p) = pending.take() {
                    out.push_str(p);
                    out.push_str("<br />");
                    last = Para::P;
                } else if last != Para::P {
                    close_para(&mut last, &mut out);
                    pending = Some("<p>");
                } else {
                    pending = Some("</p><p>");
                }
            } else if let Some(p) = pending.take() {
                out.push_str(p);
                last = Para::P;
            } else if last != Para::P {
                close_para(&mut last, &mut out);
                out.push_str("<p>");
                last = Para::P;
            }
        }
        if pending.is_none() {
            out.push_str(&inline(t, ctx));
            out.push('\n');
        }
    }
    while !lists.levels.is_empty() {
        lists.close_level(&mut out);
        if lists.levels.is_empty() {
            out.push('\n');
        }
    }
    close_para(&mut last, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// Balancing

/// Closes every tag left open and drops closing tags with no open match, so the result can
/// be embedded anywhere without closing its container. Works on this module's own output
/// (text is escaped, attribute values are quoted and escaped).
fn balance(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + 16);
    let mut open: Vec<&str> = Vec::new();
    let mut rest = html;
    while let Some(p) = rest.find('<') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let Some(end) = rest.find('>') else {
            break;
        };
        let tag = &rest[..=end];
        rest = &rest[end + 1..];
        let closing = tag.starts_with("</");
        let name_start = if closing { 2 } else { 1 };
        let name_len = tag[name_start..]
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        let name = &tag[name_start..name_start + name_len];
        if name.is_empty() {
            continue;
        }
        if VOID_TAGS.contains(&name) || tag.ends_with("/>") {
            out.push_str(tag);
        } else if closing {
            if let Some(pos) = open.iter().rposition(|t| *t == name) {
                for t in open.drain(pos..).rev() {
                    out.push_str("</");
                    out.push_str(t);
                    out.push('>');
                }
            }
        } else {
            open.push(name);
            out.push_str(tag);
        }
    }
    out.push_str(rest);
    for t in open.into_iter().rev() {
        out.push_str("</");
        out.push_str(t);
        out.push('>');
    }
    out
}

/// Checks that `html` keeps the renderer's promise, for tests and fuzzing: every `<` starts
/// a tag of the whitelist (or of the renderer's own structure) whose attributes are among a
/// few harmless ones, double-quoted, and every `href` has a safe scheme or points to `index`.
pub fn check_output(html: &str, index: &str) -> Result<(), String> {
    const OURS: &[&str] = &[
        "a", "table", "tbody", "tr", "td", "th", "caption", "pre", "p", "h1",
    ];
    const ATTRS: &[&str] = &["href", "title", "class", "lang", "dir", "id", "rel"];
    const SCHEMES: &[&str] = &["http://", "https://", "ftp://", "mailto:", "//", "#"];
    let mut rest = html;
    while let Some(p) = rest.find('<') {
        let end = p + rest[p..]
            .find('>')
            .ok_or_else(|| "a tag that is not closed".to_owned())?;
        let tag = rest[p + 1..end]
            .trim_start_matches('/')
            .trim_end_matches('/')
            .trim_end();
        rest = &rest[end + 1..];
        let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
        if !(ALLOWED_TAGS.contains(&name) || OURS.contains(&name)) {
            return Err(format!("<{tag}>"));
        }
        while !attrs.is_empty() {
            let (attr, after) = attrs.split_once("=\"").ok_or_else(|| format!("<{tag}>"))?;
            let (value, after) = after.split_once('"').ok_or_else(|| format!("<{tag}>"))?;
            if !ATTRS.contains(&attr) {
                return Err(format!("<{tag}>"));
            }
            // Schemes are case-insensitive (`HTTPS://` is a web link like `https://`).
            let scheme_safe = SCHEMES.iter().any(|s| {
                value
                    .get(..s.len())
                    .is_some_and(|v| v.eq_ignore_ascii_case(s))
            });
            if attr == "href" && !(value.starts_with(index) || scheme_safe) {
                return Err(format!("<{tag}>"));
            }
            attrs = after.trim_start();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "http://127.0.0.1:8081/w/index.php";

    fn page(text: &str) -> String {
        render(text, INDEX).html
    }

    fn body(text: &str) -> String {
        let html = page(text);
        html.strip_prefix("<div class=\"mw-parser-output\">")
            .and_then(|h| h.strip_suffix("</div>"))
            .unwrap()
            .to_owned()
    }

    fn inl(text: &str) -> String {
        render_inline(text, INDEX)
    }

    const SAMPLE: &str = "== Summary ==\nA '''red''' photo of [[Main Page|the start]], ''italic'' and [https://example.org/x?a=1&b=2 ext] <script>alert(1)</script> <b onclick=\"x\">b</b>.\n* one\n* two\n# n1\n#: cont\n\n{{Information|description={{en|1=A red thing}}|author=Me|source={{own}}|date=2020-01-01}}\n{{cc-by-sa-4.0}}\n\n[[Category:Red]]\n";

    #[test]
    fn mediawiki_sample_without_templates() {
        let r = render_page(SAMPLE, INDEX, false);
        let want = "<div class=\"mw-parser-output\"><h2><span class=\"mw-headline\" id=\"Summary\">Summary</span></h2>\n<p>A <b>red</b> photo of <a href=\"http://127.0.0.1:8081/w/index.php?title=Main_Page\" title=\"Main Page\">the start</a>, <i>italic</i> and <a rel=\"nofollow\" class=\"external text\" href=\"https://example.org/x?a=1&amp;b=2\">ext</a> &lt;script&gt;alert(1)&lt;/script&gt; <b>b</b>.\n</p>\n<ul><li>one</li>\n<li>two</li></ul>\n<ol><li>n1\n<dl><dd>cont</dd></dl></li></ol>\n<p><a href=\"http://127.0.0.1:8081/w/index.php?title=Template:Information&amp;action=edit&amp;redlink=1\" class=\"new\" title=\"Template:Information (page does not exist)\">Template:Information</a>\n<a href=\"http://127.0.0.1:8081/w/index.php?title=Template:Cc-by-sa-4.0&amp;action=edit&amp;redlink=1\" class=\"new\" title=\"Template:Cc-by-sa-4.0 (page does not exist)\">Template:Cc-by-sa-4.0</a>\n</p>\n</div>";
        assert_eq!(r.html, want);
        assert_eq!(r.categories, vec!["Red".to_owned()]);
    }

    #[test]
    fn mediawiki_sample_with_known_templates() {
        let r = render(SAMPLE, INDEX);
        let h = &r.html;
        assert!(
            h.contains("<table class=\"fileinfotpl-type-information\">"),
            "{h}"
        );
        assert!(h.contains("<div class=\"description mw-content-ltr en\" lang=\"en\" dir=\"ltr\"><span class=\"language en\"><b>English:</b></span> A red thing</div>"), "{h}");
        assert!(
            h.contains("<span class=\"int-own-work\" lang=\"en\">Own work</span>"),
            "{h}"
        );
        assert!(h.contains("href=\"https://creativecommons.org/licenses/by-sa/4.0\">Creative Commons Attribution-Share Alike 4.0</a>"), "{h}");
        assert!(
            h.contains("<td class=\"fileinfo-date\">2020-01-01</td>"),
            "{h}"
        );
        assert!(!h.contains("Template:"), "{h}");
        assert!(!h.contains("<p><div") && !h.contains("<p><table"), "{h}");
        assert_eq!(r.categories, vec!["Red".to_owned()]);
    }

    #[test]
    fn paragraphs() {
        assert_eq!(body("a\nb"), "<p>a\nb\n</p>\n");
        assert_eq!(body("a\n\nb"), "<p>a\n</p><p>b\n</p>\n");
        assert_eq!(body("a\n\n\nb"), "<p>a\n</p><p><br />\nb\n</p>\n");
        assert_eq!(
            body("== H ==\ntext"),
            "<h2><span class=\"mw-headline\" id=\"H\">H</span></h2>\n<p>text\n</p>\n"
        );
        assert_eq!(body(" pre\n more"), "<pre>pre\nmore\n</pre>\n");
        assert_eq!(body("----\nx"), "<hr />\n<p>x\n</p>\n");
    }

    #[test]
    fn headings() {
        assert_eq!(
            body("=== A b & c ===\n== A b & c =="),
            "<h3><span class=\"mw-headline\" id=\"A_b_&amp;_c\">A b &amp; c</span></h3>\n<h2><span class=\"mw-headline\" id=\"A_b_&amp;_c_2\">A b &amp; c</span></h2>\n"
        );
        assert_eq!(
            body("== ''x'' [[y]] =="),
            "<h2><span class=\"mw-headline\" id=\"x_y\"><i>x</i> <a href=\"http://127.0.0.1:8081/w/index.php?title=Y\" title=\"Y\">y</a></span></h2>\n"
        );
        assert_eq!(
            body("== \"<q>x</q> =="),
            "<h2><span class=\"mw-headline\" id=\"&quot;x\">\"<q>x</q></span></h2>\n"
        );
    }

    #[test]
    fn bold_and_italic() {
        assert_eq!(
            inl("'''b''' ''i'' '''''bi'''''"),
            "<b>b</b> <i>i</i> <i><b>bi</b></i>"
        );
        assert_eq!(inl("'''''b''' i''"), "<i><b>b</b> i</i>");
        assert_eq!(inl("'''''i'' b'''"), "<b><i>i</i> b</b>");
        assert_eq!(inl("''unclosed"), "<i>unclosed</i>");
        assert_eq!(inl("l'''amour'' x"), "l'<i>amour</i> x");
        assert_eq!(inl("''''four''''"), "'<b>four'</b>");
        assert_eq!(inl("'''b ''bi''' i''"), "<b>b <i>bi</i></b><i> i</i>");
    }

    #[test]
    fn internal_links() {
        let a = |t: &str| inl(t);
        assert_eq!(a("[[main Page]]"), "<a href=\"http://127.0.0.1:8081/w/index.php?title=Main_Page\" title=\"Main Page\">main Page</a>");
        assert_eq!(
            a("[[Apple]]s"),
            "<a href=\"http://127.0.0.1:8081/w/index.php?title=Apple\" title=\"Apple\">Apples</a>"
        );
        assert_eq!(a("[[:Category:Red things|cat]]"), "<a href=\"http://127.0.0.1:8081/w/index.php?title=Category:Red_things\" title=\"Category:Red things\">cat</a>");
        assert_eq!(a("[[:Category:X]]"), "<a href=\"http://127.0.0.1:8081/w/index.php?title=Category:X\" title=\"Category:X\">Category:X</a>");
        assert_eq!(a("[[File:Café x.png|thumb|200px|A ''red'' thing]]"), "<a href=\"http://127.0.0.1:8081/w/index.php?title=File:Caf%C3%A9_x.png\" title=\"File:Café x.png\">A <i>red</i> thing</a>");
        assert_eq!(a("[[Image:X.png|thumb]]"), "<a href=\"http://127.0.0.1:8081/w/index.php?title=File:X.png\" title=\"File:X.png\">Image:X.png</a>");
        assert_eq!(a("[[Page#Sec tion|s]]"), "<a href=\"http://127.0.0.1:8081/w/index.php?title=Page#Sec_tion\" title=\"Page\">s</a>");
        assert_eq!(a("[[#Top]]"), "<a href=\"#Top\">#Top</a>");
        assert_eq!(a("[[a<b]] [[x|y"), "[[a&lt;b]] [[x|y");
        assert_eq!(
            a("[[[x]]]"),
            "[<a href=\"http://127.0.0.1:8081/w/index.php?title=X\" title=\"X\">x</a>]"
        );
        assert_eq!(a("[[User:A \"q\"|<b>B</b>]]"), "<a href=\"http://127.0.0.1:8081/w/index.php?title=User:A_%22q%22\" title=\"User:A &quot;q&quot;\"><b>B</b></a>");
    }

    #[test]
    fn external_links() {
        assert_eq!(inl("[https://x.org a b] [http://y.org] [//z.org/p] [ftp://f.org]"),
            "<a rel=\"nofollow\" class=\"external text\" href=\"https://x.org\">a b</a> <a rel=\"nofollow\" class=\"external autonumber\" href=\"http://y.org\">[1]</a> <a rel=\"nofollow\" class=\"external autonumber\" href=\"//z.org/p\">[2]</a> <a rel=\"nofollow\" class=\"external autonumber\" href=\"ftp://f.org\">[3]</a>");
        assert_eq!(inl("see https://x.org/a_(b), and mailto:a@b.org."),
            "see <a rel=\"nofollow\" class=\"external free\" href=\"https://x.org/a_(b)\">https://x.org/a_(b)</a>, and <a rel=\"nofollow\" class=\"external free\" href=\"mailto:a@b.org\">mailto:a@b.org</a>.");
        assert_eq!(inl("(https://x.org)"), "(<a rel=\"nofollow\" class=\"external free\" href=\"https://x.org\">https://x.org</a>)");
        for bad in [
            "[javascript:alert(1) x]",
            "[data:text/html,x y]",
            "[vbscript:x y]",
            "javascript:alert(1)",
            "[jav&#97;script:x y]",
        ] {
            let h = inl(bad);
            assert!(!h.contains("<a"), "{bad} → {h}");
        }
        assert_eq!(inl("[https://x.org/\"onmouseover=alert(1) y]"), "<a rel=\"nofollow\" class=\"external text\" href=\"https://x.org/\">\"onmouseover=alert(1) y</a>");
        assert_eq!(inl("xhttp://no"), "xhttp://no");
    }

    #[test]
    fn lists() {
        assert_eq!(
            body("* a\n** b\n* c"),
            "<ul><li>a\n<ul><li>b</li></ul></li>\n<li>c</li></ul>\n"
        );
        assert_eq!(
            body("; t : d\n: e"),
            "<dl><dt>t</dt>\n<dd>d</dd>\n<dd>e</dd></dl>\n"
        );
        assert_eq!(
            body("# a\n# b\ntext"),
            "<ol><li>a</li>\n<li>b</li></ol>\n<p>text\n</p>\n"
        );
        assert_eq!(body("; [[a:b]]"), "<dl><dt><a href=\"http://127.0.0.1:8081/w/index.php?title=A:b\" title=\"A:b\">a:b</a></dt></dl>\n");
        let deep = "*".repeat(1000) + " x";
        let h = body(&deep);
        assert_eq!(h.matches("<ul>").count(), MAX_LIST_DEPTH);
        assert_eq!(h.matches("</ul>").count(), MAX_LIST_DEPTH);
    }

    #[test]
    fn categories_are_taken_out() {
        let r = render(
            "Text [[Category:Red things|sort]] more\n[[Category:red_things]]\n[[Category:Blue]]",
            INDEX,
        );
        assert_eq!(
            r.html,
            "<div class=\"mw-parser-output\"><p>Text more\n</p>\n</div>"
        );
        assert_eq!(
            r.categories,
            vec!["Red things".to_owned(), "Blue".to_owned()]
        );
        assert_eq!(
            categories("<nowiki>[[Category:No]]</nowiki>[[:Category:Link]]"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn missing_templates() {
        assert_eq!(inl("{{foo bar|x}}"), "<a href=\"http://127.0.0.1:8081/w/index.php?title=Template:Foo_bar&amp;action=edit&amp;redlink=1\" class=\"new\" title=\"Template:Foo bar (page does not exist)\">Template:Foo bar</a>");
        assert_eq!(inl("{{:Main}}"), "<a href=\"http://127.0.0.1:8081/w/index.php?title=Main&amp;action=edit&amp;redlink=1\" class=\"new\" title=\"Main (page does not exist)\">Main</a>");
        assert_eq!(inl("{{DEFAULTSORT:x}}a"), "a");
        assert_eq!(
            body("== {{int:filedesc}} =="),
            "<h2><span class=\"mw-headline\" id=\"Summary\">Summary</span></h2>\n"
        );
        assert_eq!(
            inl("{{int:license-header}} {{int:<b>x}}"),
            "Licensing ⧼&lt;b&gt;x⧽"
        );
        assert_eq!(inl("{{#if:x|y}}"), "{{#if:x|y}}");
        assert_eq!(inl("{{a<b>}}"), "{{a<b>}}</b>");
        assert_eq!(inl("{{{1|d}}}"), "{{{1|d}}}");
        assert_eq!(inl("{{x|[[a}}"), "{{x|[[a}}");
        assert_eq!(inl("}} ]] {{"), "}} ]] {{");
    }

    #[test]
    fn template_arguments() {
        let nodes = parse("{{Tpl | a = 1 | 2 |[[User:A|A]]| b={{en|1=x=y}}|a=last}}");
        let Some(Node::Template(t)) = nodes.first() else {
            panic!("{nodes:?}")
        };
        assert_eq!(t.key().as_deref(), Some("tpl"));
        assert_eq!(plain_text(t.arg("A").unwrap()).as_deref(), Some("last"));
        assert_eq!(plain_text(t.arg("1").unwrap()).as_deref(), Some(" 2 "));
        assert_eq!(
            plain_text(t.arg("2").unwrap()).as_deref(),
            Some("[[User:A|A]]")
        );
        assert_eq!(source(t.arg("b").unwrap()), "{{en|1=x=y}}");
        assert_eq!(t.positional().len(), 2);
        assert_eq!(
            source(&nodes),
            "{{Tpl |a=1| 2 |[[User:A|A]]|b={{en|1=x=y}}|a=last}}"
        );
    }

    #[test]
    fn html_tags() {
        assert_eq!(
            inl("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(inl("<b onclick=\"x\">b</b>"), "<b>b</b>");
        assert_eq!(inl("<span class=\"a&quot;b\" style=\"background:url(x)\" lang=en dir=RTL title='t&amp;'>s</span>"),
            "<span class=\"a&quot;b\" lang=\"en\" dir=\"rtl\" title=\"t&amp;\">s</span>");
        assert_eq!(
            inl("<span lang=\"x onmouseover=y\">s</span>"),
            "<span>s</span>"
        );
        for bad in [
            "<img src=x onerror=alert(1)>",
            "<a href=\"javascript:x\">y</a>",
            "<iframe src=x>",
            "<style>*{}</style>",
            "<svg onload=x>",
            "<math>",
        ] {
            let h = inl(bad);
            assert!(h.starts_with("&lt;"), "{bad} → {h}");
        }
        assert_eq!(inl("a<br>b<br/>c</br>"), "a<br />b<br />c<br />");
        assert_eq!(inl("<b>x"), "<b>x</b>");
        assert_eq!(inl("x</b>"), "x&lt;/b&gt;");
        assert_eq!(inl("<b><i>x</b></i>"), "<b><i>x</i></b>&lt;/i&gt;");
        assert_eq!(inl("<B>x</B>"), "<b>x</b>");
        assert_eq!(
            body("<div>\ntext\n</div>"),
            "<div>\n<p>text\n</p>\n</div>\n"
        );
    }

    #[test]
    fn nowiki_pre_comments_entities() {
        assert_eq!(
            inl("<nowiki>''[[x]]'' &amp; <b></nowiki>"),
            "''[[x]]'' &amp; &lt;b&gt;"
        );
        assert_eq!(inl("a<!-- hidden -->b<!-- open"), "ab");
        assert_eq!(body("a\n<!-- c -->\nb"), "<p>a\nb\n</p>\n");
        assert_eq!(
            body("<pre>x < ''y''\n z</pre>"),
            "<pre>x &lt; ''y''\n z</pre>\n"
        );
        assert_eq!(
            inl("&eacute; &amp;amp; &bogus; &#60;b&#62; &#0; &"),
            "é &amp;amp; &amp;bogus; &lt;b&gt; \u{fffd} &amp;"
        );
        assert_eq!(inl("__NOTOC__x__notanymagic__"), "x__notanymagic__");
        assert_eq!(inl("<nowiki>unclosed"), "&lt;nowiki&gt;unclosed");
        assert_eq!(
            inl("a<includeonly>x</includeonly>b<noinclude>c</noinclude>"),
            "abc"
        );
    }

    #[test]
    fn tables() {
        assert_eq!(
            body("{| class=\"x\" onclick=\"y\"\n|+ Cap\n! H1 !! H2\n|-\n| style=\"color:red\" | a || ''b''\n|}"),
            "<table class=\"wikitable\">\n<caption> Cap\n</caption><tbody><tr><th> H1 </th><th> H2\n</th></tr>\n<tr><td> a </td><td> <i>b</i>\n</td></tr></tbody></table>\n"
        );
        // Unclosed and nested tables are closed.
        let h = body("{|\n|a\n{|\n|b");
        assert_eq!(h.matches("<table").count(), 2);
        assert_eq!(h.matches("</table>").count(), 2);
    }

    #[test]
    fn known_templates() {
        assert_eq!(
            inl("{{own}}"),
            "<span class=\"int-own-work\" lang=\"en\">Own work</span>"
        );
        assert_eq!(inl("{{de|1=''Ein'' Ding}}"), "<div class=\"description mw-content-ltr de\" lang=\"de\" dir=\"ltr\"><span class=\"language de\"><b>German:</b></span> <i>Ein</i> Ding</div>");
        assert_eq!(inl("{{he|x}}"), "<div class=\"description mw-content-rtl he\" lang=\"he\" dir=\"rtl\"><span class=\"language he\"><b>Hebrew:</b></span> x</div>");
        assert_eq!(inl("{{xqz|1=x}}"), "<div class=\"description mw-content-ltr xqz\" lang=\"xqz\" dir=\"ltr\"><span class=\"language xqz\"><b>xqz:</b></span> x</div>");
        assert!(inl("{{tl|x}}").contains("Template:Tl"));
        let h = inl("{{self|cc-by-sa-4.0|GFDL|author=[[User:A|A]]}}");
        assert!(
            h.contains("CC BY-SA 4.0") && h.contains("GFDL") && h.contains("Attribution: <a href="),
            "{h}"
        );
        let h = inl("{{PD-old-70}}");
        assert!(h.contains("Public domain") && !h.contains("href"), "{h}");
        assert!(inl("{{Trademarked}}").contains("Trademarked"));
        let h = inl("{{Information|Description=<script>x</script>{{en|1=<img src=x onerror=y>}}|Other_versions=v}}");
        assert!(
            h.contains("&lt;script&gt;x&lt;/script&gt;")
                && h.contains("&lt;img src=x onerror=y&gt;"),
            "{h}"
        );
        assert!(
            h.contains("<td class=\"fileinfo-other-versions\">v</td>"),
            "{h}"
        );
    }

    #[test]
    fn licenses() {
        let l = license("Cc-by-sa-3.0,2.5,2.0,1.0").unwrap();
        assert_eq!(l.template, "cc-by-sa-3.0");
        assert_eq!(l.short_name, "CC BY-SA 3.0");
        assert_eq!(
            l.usage_terms,
            "Creative Commons Attribution-Share Alike 3.0"
        );
        assert_eq!(
            l.url.as_deref(),
            Some("https://creativecommons.org/licenses/by-sa/3.0")
        );
        assert!(l.attribution_required && l.copyrighted && !l.non_free);
        let l = license("Template:CC-BY-1.0").unwrap();
        assert_eq!(
            (l.template.as_str(), l.short_name.as_str()),
            ("cc-by-1.0", "CC BY 1.0")
        );
        let l = license("cc-by-sa-3.0-de").unwrap();
        assert_eq!(
            l.url.as_deref(),
            Some("https://creativecommons.org/licenses/by-sa/3.0/de")
        );
        for pd in [
            "PD-self",
            "PD-old",
            "PD-old-70",
            "PD-US",
            "PD-author",
            "PD-user",
            "PD-ineligible",
            "PD-textlogo",
        ] {
            let l = license(pd).unwrap();
            assert_eq!(l.short_name, "Public domain");
            assert!(!l.copyrighted && !l.attribution_required, "{pd}");
        }
        let l = license("cc-zero").unwrap();
        assert_eq!((l.template.as_str(), l.copyrighted), ("cc0", false));
        for name in ["GFDL", "GFDL-self", "FAL", "GPL", "LGPL", "GPLv3"] {
            assert!(license(name).is_some(), "{name}");
        }
        for name in [
            "cc-by-9.0",
            "cc-by-sa",
            "Information",
            "PD-old-x",
            "cc-by-4.0-xyz",
            "own",
        ] {
            assert!(license(name).is_none(), "{name}");
        }
    }

    #[test]
    fn output_is_balanced() {
        for t in [
            "<div><b>x",
            "''a [[b|c'' d]]",
            "* <div>x\n* y",
            "{|\n|<div>\n|}",
            "<b>a\n\nb</b>",
            "</div></div>x",
        ] {
            let h = page(t);
            assert_eq!(
                h.matches("<div").count(),
                h.matches("</div>").count(),
                "{t} → {h}"
            );
            assert_eq!(
                h.matches("<b>").count(),
                h.matches("</b>").count(),
                "{t} → {h}"
            );
        }
    }

    /// [`check_output`], as an assertion.
    fn assert_safe(input: &str, html: &str) {
        if let Err(e) = check_output(html, INDEX) {
            panic!("{input:?} gave {e} in {html}");
        }
    }

    #[test]
    fn markers_cannot_be_spelled() {
        // Marker 0 is the nowiki text with a quote; a decoded U+007F must not pull it into
        // an attribute, a URL or text.
        for t in [
            "<nowiki>x\" onmouseover=\"alert(1)</nowiki><span title=\"&#127;0&#127;\">s</span>",
            "<nowiki>x\" onmouseover=\"alert(1)</nowiki>[https://a/&#127;0&#127; y]",
            "<nowiki>x\" onmouseover=\"alert(1)</nowiki>&#127;0&#127; &#x7f;0&#x7f;",
            "<nowiki>x\" onmouseover=\"y</nowiki>\n== &#127;0&#127; ==",
        ] {
            let h = page(t);
            assert_safe(t, &h);
            assert_eq!(h.matches("onmouseover").count(), 1, "{t} → {h}");
        }
    }

    #[test]
    fn nasty_inputs_are_fast_and_safe() {
        let inputs = [
            "[[".repeat(50_000),
            "[".repeat(100_000),
            "'".repeat(100_000),
            "{{".repeat(50_000),
            "}}".repeat(50_000),
            "{{a|".repeat(20_000),
            "[[a|{{b|".repeat(10_000),
            "<b>".repeat(30_000),
            "</b>".repeat(30_000),
            "<nowiki>".repeat(20_000),
            "<!--".repeat(20_000),
            "[http://a ".repeat(20_000),
            "http://a".repeat(20_000),
            "*#:;".repeat(10_000),
            "{|\n".repeat(10_000),
            "|}\n|-\n||".repeat(10_000),
            "a\0b\u{7f}0\u{7f}[[\0]]{{\0|\0}}<b\0>".repeat(1000),
            "== x ==\n".repeat(10_000),
            "&amp;&#x0;&#99999999;&".repeat(10_000),
            "''x'''".repeat(20_000),
            "<span class=\"".repeat(10_000),
            " x\n".repeat(20_000),
            "{{Information|description={{en|1={{de|1={{fr|1=".repeat(500),
            "{{self|".repeat(5000) + &"}}".repeat(5000),
            "{{en|1=".repeat(10_000) + &"}}".repeat(10_000),
        ];
        for input in inputs {
            let start = std::time::Instant::now();
            let r = render(&input, INDEX);
            let elapsed = start.elapsed();
            assert!(
                elapsed.as_secs_f64() < 2.0,
                "{:?}… took {elapsed:?}",
                &input[..40.min(input.len())]
            );
            assert_safe(&input, &r.html);
            assert!(!r.html.contains('\u{7f}') && !r.html.contains('\0'));
        }
    }

    #[test]
    fn random_inputs_are_safe() {
        const PIECES: &[&str] = &[
            "[[",
            "]]",
            "{{",
            "}}",
            "|",
            "=",
            "'''",
            "''",
            "\n",
            "*",
            "#",
            ":",
            ";",
            "<b>",
            "</b>",
            "<nowiki>",
            "</nowiki>",
            "{|",
            "|-",
            "|}",
            "==",
            "x",
            " ",
            "http://a",
            "[",
            "]",
            "<!--",
            "-->",
            "&amp;",
            "<pre>",
            "</pre>",
            "!!",
            "||",
            "\n ",
            "<div>",
            "</div>",
            "<script>",
            "javascript:",
            "Category:",
            "File:",
            "{{en|1=",
            "{{Information|description=",
            "onclick=",
            "<span title=\"",
            "\"",
            "é",
            "\u{7f}",
            "\0",
            "[//x",
            "mailto:",
            "{{own}}",
            "----",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..60 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(PIECES[(seed % PIECES.len() as u64) as usize]);
            }
            let r = render(&text, INDEX);
            assert_safe(&text, &r.html);
            let inline = render_inline(&text, INDEX);
            assert_safe(&text, &inline);
        }
    }
}
