//! Tests of the reader: every client framing from the reference notes, the
//! edge cases of PHP's framing, limits, truncation, and invariance under the
//! way the body is split into chunks.

use super::*;
use futures_util::stream;
use std::io;

type Chunks = stream::Iter<std::vec::IntoIter<Result<Bytes, io::Error>>>;

fn reader(chunks: Vec<Bytes>, boundary: &str, limits: Limits) -> MultipartReader<Chunks> {
    let items: Vec<Result<Bytes, io::Error>> = chunks.into_iter().map(Ok).collect();
    MultipartReader::new(stream::iter(items), boundary, limits)
}

/// Everything a reader produced: the parts read to their end, then how it
/// stopped (`Ok` after the closing delimiter, or the error).
#[derive(Debug, PartialEq)]
struct Outcome {
    parts: Vec<(PartHeaders, Vec<u8>)>,
    end: Result<(), String>,
}

impl Outcome {
    fn names(&self) -> Vec<&str> {
        self.parts.iter().map(|(h, _)| h.name.as_str()).collect()
    }

    fn data(&self, name: &str) -> &[u8] {
        &self
            .parts
            .iter()
            .find(|(h, _)| h.name == name)
            .unwrap_or_else(|| panic!("no part {name}"))
            .1
    }

    fn header(&self, name: &str) -> &PartHeaders {
        &self.parts.iter().find(|(h, _)| h.name == name).unwrap().0
    }
}

fn kind(e: &MultipartError) -> String {
    match e {
        MultipartError::Stream(_) => "Stream".into(),
        other => format!("{other:?}"),
    }
}

async fn collect(chunks: Vec<Bytes>, boundary: &str, limits: Limits) -> Outcome {
    let mut r = reader(chunks, boundary, limits);
    let mut parts = Vec::new();
    loop {
        let headers = match r.next_part().await {
            Ok(Some(h)) => h,
            Ok(None) => return Outcome { parts, end: Ok(()) },
            Err(e) => {
                return Outcome {
                    parts,
                    end: Err(kind(&e)),
                }
            }
        };
        let mut data = Vec::new();
        loop {
            match r.read_chunk().await {
                Ok(Some(piece)) => {
                    assert!(!piece.is_empty(), "empty piece");
                    data.extend_from_slice(&piece);
                }
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        parts,
                        end: Err(kind(&e)),
                    }
                }
            }
        }
        parts.push((headers, data));
    }
}

/// Like [`collect`], but never reads the body of every other part (its data
/// is recorded as empty), so `next_part` has to skip it.
async fn collect_skipping(chunks: Vec<Bytes>, boundary: &str, limits: Limits) -> Outcome {
    let mut r = reader(chunks, boundary, limits);
    let mut parts = Vec::new();
    let mut skipped: Option<PartHeaders> = None;
    let mut index = 0;
    loop {
        let next = r.next_part().await;
        if next.is_ok() {
            if let Some(h) = skipped.take() {
                parts.push((h, Vec::new()));
            }
        }
        let headers = match next {
            Ok(Some(h)) => h,
            Ok(None) => return Outcome { parts, end: Ok(()) },
            Err(e) => {
                return Outcome {
                    parts,
                    end: Err(kind(&e)),
                }
            }
        };
        index += 1;
        if index % 2 == 0 {
            skipped = Some(headers);
            continue;
        }
        match r.read_to_vec(usize::MAX).await {
            Ok(data) => parts.push((headers, data)),
            Err(e) => {
                return Outcome {
                    parts,
                    end: Err(kind(&e)),
                }
            }
        }
    }
}

fn whole(body: &[u8]) -> Vec<Bytes> {
    vec![Bytes::copy_from_slice(body)]
}

fn fixed(body: &[u8], size: usize) -> Vec<Bytes> {
    let body = Bytes::copy_from_slice(body);
    (0..body.len())
        .step_by(size)
        .map(|at| body.slice(at..(at + size).min(body.len())))
        .collect()
}

/// Small deterministic pseudo-random generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn random_split(body: &[u8], rng: &mut Rng, max: usize) -> Vec<Bytes> {
    let body = Bytes::copy_from_slice(body);
    let mut out = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let len = 1 + rng.below(max);
        let end = (at + len).min(body.len());
        out.push(body.slice(at..end));
        if rng.below(4) == 0 {
            out.push(Bytes::new());
        }
        at = end;
    }
    out
}

/// Parses `body` whole, byte by byte and in random pieces, checks that all
/// agree, and returns the outcome.
async fn parse(body: &[u8], boundary: &str) -> Outcome {
    parse_with(body, boundary, Limits::default()).await
}

async fn parse_with(body: &[u8], boundary: &str, limits: Limits) -> Outcome {
    let expected = collect(whole(body), boundary, limits).await;
    assert_eq!(
        collect(fixed(body, 1), boundary, limits).await,
        expected,
        "1-byte chunks"
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ body.len() as u64);
    for max in [2, 7, 64, 1000] {
        let chunks = random_split(body, &mut rng, max);
        assert_eq!(
            collect(chunks, boundary, limits).await,
            expected,
            "random chunks ≤ {max}"
        );
    }
    expected
}

fn field(name: &str, data: &[u8]) -> (PartHeaders, Vec<u8>) {
    (
        PartHeaders {
            name: name.into(),
            filename: None,
            content_type: None,
        },
        data.to_vec(),
    )
}

// ---------------------------------------------------------------------------
// Client framings (reference notes, section 1.2)

const PNG_TAIL: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR...IEND\xaeB`\x82";

fn mwclient_body(boundary: &str, file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in [
        ("action", "upload"),
        ("format", "json"),
        ("filename", "Acc-mwclient-sm\u{e4}ll.png"),
        (
            "comment",
            "mwclient direct upload \u{2014} Gr\u{fc}\u{df}e \u{2713}",
        ),
        ("text", "== Summary ==\nDirect upload by mwclient."),
        ("token", "90cabfc4c573c3bd7d706b6b20e7c6856b0120ad+\\"),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fake-filename\"\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn mwclient_crlf_file_without_content_type() {
    let boundary = "baa11d65a748f40f8d0e96635ab576cd";
    let out = parse(&mwclient_body(boundary, PNG_TAIL), boundary).await;
    assert_eq!(out.end, Ok(()));
    assert_eq!(
        out.names(),
        ["action", "format", "filename", "comment", "text", "token", "file"]
    );
    assert_eq!(out.parts[0], field("action", b"upload"));
    assert_eq!(
        out.data("filename"),
        "Acc-mwclient-sm\u{e4}ll.png".as_bytes()
    );
    assert_eq!(
        out.data("comment"),
        "mwclient direct upload \u{2014} Gr\u{fc}\u{df}e \u{2713}".as_bytes()
    );
    assert_eq!(
        out.data("text"),
        b"== Summary ==\nDirect upload by mwclient."
    );
    assert_eq!(
        out.data("token"),
        b"90cabfc4c573c3bd7d706b6b20e7c6856b0120ad+\\"
    );
    let file = out.header("file");
    assert!(file.is_file());
    assert_eq!(file.filename.as_deref(), Some("fake-filename"));
    assert_eq!(file.content_type, None);
    assert_eq!(out.data("file"), PNG_TAIL);
}

#[tokio::test]
async fn mwclient_crlf_keeps_trailing_cr_of_data() {
    // CRLF framing sends `<data>\r\r\n--B`: the data keeps its `\r`.
    let boundary = "813db4d03c85083433e469d6f71d1486";
    let out = parse(&mwclient_body(boundary, b"chunk ends in CR\r"), boundary).await;
    assert_eq!(out.data("file"), b"chunk ends in CR\r");
    let out = parse(&mwclient_body(boundary, b""), boundary).await;
    assert_eq!(out.data("file"), b"");
}

const PYWIKIBOT_BOUNDARY: &str = "===============8276821178571182961==";

fn pywikibot_body(file: &[u8]) -> Vec<u8> {
    let b = PYWIKIBOT_BOUNDARY;
    let mut body = Vec::new();
    for (name, value) in [
        ("action", "upload"),
        ("token", "df75f3f2d04546f1f7b9171ef5fa7be86b0120b3+\\"),
        ("stash", ""),
        ("text", "== Summary ==\nDirect upload by pywikibot."),
    ] {
        body.extend_from_slice(
            format!(
                "--{b}\nContent-Type: text/plain\nMIME-Version: 1.0\nContent-disposition: form-data; name=\"{name}\"\n\n{value}\n"
            )
            .as_bytes(),
        );
    }
    for (name, value) in [
        ("filename", "Acc-pywikibot-sm\u{e4}ll.png"),
        (
            "comment",
            "pywikibot direct upload \u{2014} Gr\u{fc}\u{df}e \u{2713}",
        ),
    ] {
        body.extend_from_slice(
            format!(
                "--{b}\nContent-Type: application/octet-stream\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\nContent-disposition: form-data; name=\"{name}\"\n\n{value}\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{b}\nContent-Type: image/png\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\nContent-disposition: form-data; name=\"file\"; filename=\"FAKE-NAME\"\n\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\n--{b}--\n").as_bytes());
    body
}

#[tokio::test]
async fn pywikibot_bare_lf_quoted_boundary() {
    let content_type = format!("multipart/form-data; boundary=\"{PYWIKIBOT_BOUNDARY}\"");
    let boundary = parse_boundary(&content_type).unwrap();
    assert_eq!(boundary, PYWIKIBOT_BOUNDARY);
    let out = parse(&pywikibot_body(PNG_TAIL), &boundary).await;
    assert_eq!(out.end, Ok(()));
    assert_eq!(
        out.names(),
        ["action", "token", "stash", "text", "filename", "comment", "file"]
    );
    let action = out.header("action");
    assert_eq!(action.content_type.as_deref(), Some("text/plain"));
    assert!(!action.is_file());
    assert_eq!(out.data("action"), b"upload");
    assert_eq!(out.data("stash"), b"");
    assert_eq!(
        out.data("text"),
        b"== Summary ==\nDirect upload by pywikibot."
    );
    // non-ASCII text fields: octet-stream parts without filename are fields
    let comment = out.header("comment");
    assert_eq!(comment.filename, None);
    assert_eq!(
        comment.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(
        out.data("comment"),
        "pywikibot direct upload \u{2014} Gr\u{fc}\u{df}e \u{2713}".as_bytes()
    );
    assert_eq!(
        out.data("filename"),
        "Acc-pywikibot-sm\u{e4}ll.png".as_bytes()
    );
    let file = out.header("file");
    assert_eq!(file.filename.as_deref(), Some("FAKE-NAME"));
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    assert_eq!(out.data("file"), PNG_TAIL);
}

#[tokio::test]
async fn pywikibot_drops_exactly_one_cr_before_the_delimiter() {
    // The last chunk gets a `\r` appended, which the framing eats.
    let out = parse(&pywikibot_body(b"last chunk\r"), PYWIKIBOT_BOUNDARY).await;
    assert_eq!(out.data("file"), b"last chunk");
    // A chunk whose own last byte is `\r`, plus the appended one: one is kept.
    let out = parse(&pywikibot_body(b"data\r\r"), PYWIKIBOT_BOUNDARY).await;
    assert_eq!(out.data("file"), b"data\r");
    // Any other chunk ending in `\r` arrives one byte short.
    let out = parse(&pywikibot_body(b"\r"), PYWIKIBOT_BOUNDARY).await;
    assert_eq!(out.data("file"), b"");
    let out = parse(&pywikibot_body(b"\r\n\r\n\r"), PYWIKIBOT_BOUNDARY).await;
    assert_eq!(out.data("file"), b"\r\n\r\n");
}

#[tokio::test]
async fn mwn_crlf_dashed_boundary_file_in_the_middle() {
    let boundary = "--------------------------ab8f46a7c7f523239f800b46";
    let mut body = Vec::new();
    let add_field = |body: &mut Vec<u8>, name: &str, value: &str| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        )
    };
    for (name, value) in [
        ("format", "json"),
        ("formatversion", "2"),
        ("maxlag", "5"),
        ("action", "upload"),
    ] {
        add_field(&mut body, name, value);
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"small.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(PNG_TAIL);
    body.extend_from_slice(b"\r\n");
    for (name, value) in [
        ("filename", "Acc-mwn-sm\u{e4}ll.png"),
        ("ignorewarnings", "1"),
        ("token", "b58e74bee648de56e693c8de8562885b6b0120c5+\\"),
    ] {
        add_field(&mut body, name, value);
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    assert!(body.starts_with(b"----------------------------ab8f"));

    let content_type = format!("multipart/form-data; boundary={boundary}");
    let out = parse(&body, &parse_boundary(&content_type).unwrap()).await;
    assert_eq!(out.end, Ok(()));
    assert_eq!(
        out.names(),
        [
            "format",
            "formatversion",
            "maxlag",
            "action",
            "file",
            "filename",
            "ignorewarnings",
            "token"
        ]
    );
    let file = out.header("file");
    assert_eq!(file.filename.as_deref(), Some("small.png"));
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    assert_eq!(out.data("file"), PNG_TAIL);
    assert_eq!(
        out.data("token"),
        b"b58e74bee648de56e693c8de8562885b6b0120c5+\\"
    );
}

#[tokio::test]
async fn nodemw_empty_values_and_untyped_file() {
    let boundary = "nodemw1700000000000";
    let mut body = Vec::new();
    for (name, value) in [
        ("action", "upload"),
        ("format", "json"),
        ("ignorewarnings", ""),
        ("text", ""),
        ("filename", "Foo.png"),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"foo\"\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(PNG_TAIL);
    body.extend_from_slice(format!("\r\n--{boundary}--").as_bytes());
    let out = parse(&body, boundary).await;
    assert_eq!(out.end, Ok(()));
    assert_eq!(out.data("ignorewarnings"), b"");
    assert_eq!(out.data("text"), b"");
    assert_eq!(out.header("file").filename.as_deref(), Some("foo"));
    assert_eq!(out.header("file").content_type, None);
    assert_eq!(out.data("file"), PNG_TAIL);
}

// ---------------------------------------------------------------------------
// Framing details

fn crlf_part(boundary: &str, disposition: &str, data: &str) -> String {
    format!("--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n{data}\r\n")
}

#[tokio::test]
async fn empty_filename_is_still_a_file() {
    let body = format!(
        "{}{}--b--\r\n",
        crlf_part("b", "name=\"file\"; filename=\"\"", ""),
        crlf_part("b", "name=\"x\"", "1")
    );
    let out = parse(body.as_bytes(), "b").await;
    let file = out.header("file");
    assert_eq!(file.filename.as_deref(), Some(""));
    assert!(file.is_file());
    assert_eq!(out.data("file"), b"");
    assert_eq!(out.data("x"), b"1");
}

#[tokio::test]
async fn boundary_text_not_at_line_start_is_data() {
    let data = "x--b\r\nin--b--\r\n \r--b\r\n\t--b\n-\n--\n--c\n";
    let body = format!("{}--b--\r\n", crlf_part("b", "name=\"x\"", data));
    let out = parse(body.as_bytes(), "b").await;
    assert_eq!(out.parts, [field("x", data.as_bytes())]);
    assert_eq!(out.end, Ok(()));
}

#[tokio::test]
async fn line_starting_with_boundary_prefix_ends_the_part() {
    // `\n--bX` ends the part (what follows `--b` does not matter); the rest
    // up to the next delimiter line is skipped.
    let body = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n--bX more\r\n\
                still skipped\r\n--b \r\r\nskipped too\n--b\r\n\
                Content-Disposition: form-data; name=\"c\"\r\n\r\nworld\r\n--b--\r\n";
    let out = parse(body.as_bytes(), "b").await;
    assert_eq!(out.parts, [field("a", b"hello"), field("c", b"world")]);
    assert_eq!(out.end, Ok(()));
    // A closing delimiter in the middle of data ends everything.
    let body = "--b\nContent-Disposition: form-data; name=\"a\"\n\nab\n--b--cd\n--b\n\
                Content-Disposition: form-data; name=\"c\"\n\nx\n--b--\n";
    let out = parse(body.as_bytes(), "b").await;
    assert_eq!(out.parts, [field("a", b"ab")]);
    assert_eq!(out.end, Ok(()));
}

#[tokio::test]
async fn delimiter_line_endings_and_padding() {
    for delimiter_end in ["\n", "\r\n", " \r\n", "\t \n"] {
        let body = format!(
            "--b{delimiter_end}Content-Disposition: form-data; name=\"a\"\n\n1\n--b{delimiter_end}\
             Content-Disposition: form-data; name=\"c\"\r\n\r\n2\r\n--b--"
        );
        let out = parse(body.as_bytes(), "b").await;
        assert_eq!(
            out.parts,
            [field("a", b"1"), field("c", b"2")],
            "{delimiter_end:?}"
        );
    }
    // A header block mixing LF and CRLF line ends.
    let body =
        "--b\r\nContent-Type: text/plain\nContent-Disposition: form-data; name=\"a\"\r\n\n1\n--b--";
    let out = parse(body.as_bytes(), "b").await;
    assert_eq!(out.data("a"), b"1");
}

#[tokio::test]
async fn preamble_and_epilogue_are_ignored() {
    let parts = format!("{}--b--", crlf_part("b", "name=\"a\"", "1"));
    for preamble in [
        "",
        "\r\n",
        "\n",
        "This is a preamble.\r\n",
        "--bX\r\n-b\r\nx--b\r\n--b-x\r\n",
    ] {
        for epilogue in [
            "",
            "\r\n",
            "\n",
            "--b\r\nContent-Disposition: form-data; name=\"z\"\r\n\r\nz\r\n--b--\r\n",
        ] {
            let body = format!("{preamble}{parts}{epilogue}");
            let out = parse(body.as_bytes(), "b").await;
            assert_eq!(out.parts, [field("a", b"1")], "{preamble:?} {epilogue:?}");
            assert_eq!(out.end, Ok(()));
        }
    }
    // `--b` after a lone `\r` is not at a line start: the first delimiter
    // found is the closing one.
    let out = parse(format!("\r{parts}").as_bytes(), "b").await;
    assert_eq!(
        out,
        Outcome {
            parts: vec![],
            end: Ok(())
        }
    );
    // `--b--` before any part: no parts at all.
    let out = parse(b"preamble\n--b--\n", "b").await;
    assert_eq!(
        out,
        Outcome {
            parts: vec![],
            end: Ok(())
        }
    );
}

#[tokio::test]
async fn parts_without_name_or_disposition_are_skipped() {
    let body = "--b\r\nContent-Type: text/plain\r\n\r\nno disposition\r\n\
                --b\r\nContent-Disposition: form-data\r\n\r\nno name\r\n\
                --b\r\nContent-Disposition: form-data; filename=\"f\"\r\n\r\nfile without name\r\n\
                --b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nempty name\r\n\
                --b\r\n\r\nno headers\r\n\
                --b\r\nContent-Disposition: form-data; name=\"kept\"\r\n\r\nyes\r\n--b--\r\n";
    let out = parse(body.as_bytes(), "b").await;
    assert_eq!(out.parts, [field("kept", b"yes")]);
    assert_eq!(out.end, Ok(()));
}

#[tokio::test]
async fn header_names_are_case_insensitive_and_extras_ignored() {
    let body = "--b\r\ncontent-type: text/plain; charset=UTF-8\r\nX-Unknown: 1\r\n\
                CONTENT-DISPOSITION: Form-Data; NAME=\"a\"; FILENAME=\"f.png\"\r\n\
                content-transfer-encoding: binary\r\n\r\ndata\r\n--b--\r\n";
    let out = parse(body.as_bytes(), "b").await;
    assert_eq!(
        out.parts,
        [(
            PartHeaders {
                name: "a".into(),
                filename: Some("f.png".into()),
                content_type: Some("text/plain; charset=UTF-8".into()),
            },
            b"data".to_vec()
        )]
    );
}

#[tokio::test]
async fn part_body_starting_with_boundary_text_is_data() {
    // The header block's empty line is consumed with its newline, so `--b`
    // right after it is not at a line start of the body.
    let body = "--b\nContent-Disposition: form-data; name=\"a\"\n\n--b\nx\n--b--\n";
    let out = parse(body.as_bytes(), "b").await;
    assert_eq!(out.parts, [field("a", b"--b\nx")]);
    // A NUL byte ends a header line (and an empty line ends the block).
    let body = "--b\nContent-Disposition: form-data; name=\"a\0b\"\nX: \0\n\0junk\nbody\n--b--\n";
    let out = parse(body.as_bytes(), "b").await;
    assert_eq!(out.names(), ["a"]);
    assert_eq!(out.data("a"), b"body");
}

// ---------------------------------------------------------------------------
// Truncation, empty bodies, errors

#[tokio::test]
async fn truncated_bodies_are_incomplete() {
    let bodies: Vec<(Vec<u8>, &str)> = vec![
        (mwclient_body("bnd", b"file data\r\n--bn\r"), "bnd"),
        (pywikibot_body(b"x\r"), PYWIKIBOT_BOUNDARY),
        (
            b"pre\r\n--b \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n"
                .to_vec(),
            "b",
        ),
    ];
    for (body, boundary) in bodies {
        let full = collect(whole(&body), boundary, Limits::default()).await;
        assert_eq!(full.end, Ok(()));
        let close = format!("\n--{boundary}--");
        let closing_end = memchr::memmem::rfind(&body, close.as_bytes()).unwrap() + close.len();
        for cut in 0..body.len() {
            let prefix = &body[..cut];
            for chunks in [whole(prefix), fixed(prefix, 1), fixed(prefix, 5)] {
                let out = collect(chunks, boundary, Limits::default()).await;
                if cut == 0 {
                    assert_eq!(
                        out,
                        Outcome {
                            parts: vec![],
                            end: Ok(())
                        }
                    );
                } else if cut < closing_end {
                    assert_eq!(out.end, Err("Incomplete".into()), "cut at {cut}");
                    assert!(full.parts.starts_with(&out.parts), "cut at {cut}: {out:?}");
                } else {
                    assert_eq!(out, full, "cut at {cut}");
                }
            }
        }
    }
}

#[tokio::test]
async fn empty_body_has_no_parts() {
    let out = collect(vec![], "b", Limits::default()).await;
    assert_eq!(
        out,
        Outcome {
            parts: vec![],
            end: Ok(())
        }
    );
    let out = collect(vec![Bytes::new(), Bytes::new()], "b", Limits::default()).await;
    assert_eq!(
        out,
        Outcome {
            parts: vec![],
            end: Ok(())
        }
    );
    // but a body without any delimiter is incomplete
    for body in [
        &b"\r\n"[..],
        b"preamble only",
        b"--b",
        b"--b-",
        b"--b\r",
        b"--b\r\n",
    ] {
        let out = parse(body, "b").await;
        assert_eq!(
            out,
            Outcome {
                parts: vec![],
                end: Err("Incomplete".into())
            },
            "{body:?}"
        );
    }
}

#[tokio::test]
async fn reads_outside_a_part_return_none() {
    let body = format!("{}--b--", crlf_part("b", "name=\"a\"", "1"));
    let mut r = reader(whole(body.as_bytes()), "b", Limits::default());
    assert_eq!(r.read_chunk().await.unwrap(), None);
    assert_eq!(r.read_to_vec(10).await.unwrap(), b"");
    assert_eq!(r.next_part().await.unwrap().unwrap().name, "a");
    assert_eq!(r.read_to_vec(10).await.unwrap(), b"1");
    assert_eq!(r.read_chunk().await.unwrap(), None);
    assert_eq!(r.next_part().await.unwrap(), None);
    assert_eq!(r.next_part().await.unwrap(), None);
    assert_eq!(r.read_chunk().await.unwrap(), None);
}

#[tokio::test]
async fn read_to_vec_limit() {
    let body = format!(
        "{}{}--b--",
        crlf_part("b", "name=\"a\"", "12345"),
        crlf_part("b", "name=\"c\"", "678")
    );
    let mut r = reader(fixed(body.as_bytes(), 2), "b", Limits::default());
    r.next_part().await.unwrap();
    assert!(matches!(
        r.read_to_vec(4).await,
        Err(MultipartError::FieldTooLarge)
    ));
    // the reader is still usable: the rest of the part is skipped
    assert_eq!(r.next_part().await.unwrap().unwrap().name, "c");
    assert_eq!(r.read_to_vec(3).await.unwrap(), b"678");
    assert_eq!(r.next_part().await.unwrap(), None);

    let mut r = reader(whole(body.as_bytes()), "b", Limits::default());
    r.next_part().await.unwrap();
    assert_eq!(r.read_to_vec(5).await.unwrap(), b"12345");
}

#[tokio::test]
async fn header_size_limit() {
    let limits = Limits {
        max_header_bytes: 100,
        max_parts: 10,
    };
    let header_block = |len: usize| {
        let start = "Content-Disposition: form-data; name=\"a\"\r\nX-Pad: ";
        let pad = "p".repeat(len - start.len() - 4);
        format!("{start}{pad}\r\n\r\n")
    };
    let body = format!("--b\r\n{}1\r\n--b--", header_block(100));
    let out = parse_with(body.as_bytes(), "b", limits).await;
    assert_eq!(out.parts, [field("a", b"1")]);
    let body = format!("--b\r\n{}1\r\n--b--", header_block(101));
    let out = parse_with(body.as_bytes(), "b", limits).await;
    assert_eq!(out.end, Err("HeaderTooLarge".into()));
    // also when the header block never ends
    let body = format!("--b\r\nContent-Disposition: {}", "x".repeat(200));
    let out = parse_with(body.as_bytes(), "b", limits).await;
    assert_eq!(out.end, Err("HeaderTooLarge".into()));
    // default: 16 KiB
    let body = format!(
        "--b\r\nContent-Disposition: form-data; name=\"a\"; x=\"{}\"\r\n\r\n1\r\n--b--",
        "y".repeat(DEFAULT_MAX_HEADER_BYTES)
    );
    let out = collect(fixed(body.as_bytes(), 1000), "b", Limits::default()).await;
    assert_eq!(out.end, Err("HeaderTooLarge".into()));
}

#[tokio::test]
async fn many_parts_and_part_limit() {
    let body_with = |n: usize, nameless_every: usize| {
        let mut body = String::from("preamble\r\n");
        for i in 0..n {
            if nameless_every > 0 && i % nameless_every == 0 {
                body.push_str("--b\r\nContent-Type: text/plain\r\n\r\nskipped\r\n");
            } else {
                body.push_str(&crlf_part("b", &format!("name=\"f{i}\""), &i.to_string()));
            }
        }
        body.push_str("--b--\r\n");
        body
    };
    let body = body_with(DEFAULT_MAX_PARTS, 0);
    let out = collect(fixed(body.as_bytes(), 333), "b", Limits::default()).await;
    assert_eq!(out.end, Ok(()));
    assert_eq!(out.parts.len(), DEFAULT_MAX_PARTS);
    assert_eq!(out.data("f999"), b"999");

    let body = body_with(DEFAULT_MAX_PARTS + 1, 0);
    let out = collect(whole(body.as_bytes()), "b", Limits::default()).await;
    assert_eq!(out.end, Err("TooManyParts".into()));
    assert_eq!(out.parts.len(), DEFAULT_MAX_PARTS);

    // skipped parts count too
    let limits = Limits {
        max_header_bytes: 1024,
        max_parts: 10,
    };
    let out = parse_with(body_with(10, 3).as_bytes(), "b", limits).await;
    assert_eq!(out.end, Ok(()));
    assert_eq!(out.parts.len(), 6);
    let out = parse_with(body_with(11, 3).as_bytes(), "b", limits).await;
    assert_eq!(out.end, Err("TooManyParts".into()));
}

/// A stream that yields `chunks`, then fails.
fn failing(chunks: Vec<Bytes>) -> Chunks {
    let mut items: Vec<Result<Bytes, io::Error>> = chunks.into_iter().map(Ok).collect();
    items.push(Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")));
    stream::iter(items)
}

#[tokio::test]
async fn stream_errors_are_reported_then_sticky() {
    let mut r = MultipartReader::new(failing(vec![]), "b", Limits::default());
    let err = r.next_part().await.unwrap_err();
    assert!(matches!(err, MultipartError::Stream(_)));
    assert_eq!(err.to_string(), "error reading the request body: reset");
    assert!(matches!(
        r.next_part().await,
        Err(MultipartError::Incomplete)
    ));
    assert!(matches!(
        r.read_chunk().await,
        Err(MultipartError::Incomplete)
    ));

    let start =
        Bytes::from_static(b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\npartial");
    let mut r = MultipartReader::new(failing(vec![start]), "b", Limits::default());
    assert_eq!(r.next_part().await.unwrap().unwrap().name, "a");
    assert_eq!(r.read_chunk().await.unwrap().unwrap(), "partial");
    assert!(matches!(
        r.read_chunk().await,
        Err(MultipartError::Stream(_))
    ));
    assert!(matches!(
        r.read_chunk().await,
        Err(MultipartError::Incomplete)
    ));
}

#[tokio::test]
async fn cancelled_call_poisons_the_reader() {
    let start = Bytes::from_static(b"--b\r\nContent-Disposition: form-");
    let items: Vec<Result<Bytes, io::Error>> = vec![Ok(start)];
    let stream = stream::iter(items).chain(stream::pending());
    let mut r = MultipartReader::new(stream, "b", Limits::default());
    let timed = tokio::time::timeout(std::time::Duration::from_millis(20), r.next_part()).await;
    assert!(timed.is_err());
    assert!(matches!(
        r.next_part().await,
        Err(MultipartError::Incomplete)
    ));
}

#[test]
fn reader_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let mut r = reader(vec![], "b", Limits::default());
    assert_send(&r.next_part());
    assert_send(&r.read_chunk());
    assert_send(&r.read_to_vec(1));
}

#[test]
fn error_messages() {
    assert_eq!(
        MultipartError::Incomplete.to_string(),
        "incomplete multipart body"
    );
    assert_eq!(
        MultipartError::FieldTooLarge.to_string(),
        "multipart field too large"
    );
}

// ---------------------------------------------------------------------------
// Large bodies: streaming, zero copy, bounded buffering

#[tokio::test]
async fn ten_mib_file_is_streamed_in_large_zero_copy_pieces() {
    const SIZE: usize = 10 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let boundary = "813db4d03c85083433e469d6f71d1486";
    let mut rng = Rng(42);
    let mut file = rng.bytes(SIZE);
    // make sure the seams see `\r`, `\n` and delimiter prefixes
    for at in (CHUNK..SIZE).step_by(CHUNK * 3) {
        file[at - 1] = b'\r';
    }
    for at in (CHUNK * 2..SIZE).step_by(CHUNK * 5) {
        file[at - 4..at].copy_from_slice(b"\r\n--");
    }
    let body = Bytes::from(mwclient_body(boundary, &file));
    let chunks = fixed(&body, CHUNK);
    let ranges: Vec<(usize, usize)> = chunks
        .iter()
        .map(|c| (c.as_ptr() as usize, c.as_ptr() as usize + c.len()))
        .collect();
    let chunk_count = chunks.len();
    let mut r = reader(chunks, boundary, Limits::default());
    let mut received = Vec::with_capacity(SIZE);
    let mut pieces = 0;
    let mut zero_copy = 0;
    while let Some(part) = r.next_part().await.unwrap() {
        if part.name != "file" {
            continue;
        }
        while let Some(piece) = r.read_chunk().await.unwrap() {
            pieces += 1;
            let start = piece.as_ptr() as usize;
            if ranges
                .iter()
                .any(|&(a, b)| a <= start && start + piece.len() <= b)
            {
                zero_copy += piece.len();
            }
            received.extend_from_slice(&piece);
            assert!(r.buf.len() <= CHUNK + r.seam, "buffered {}", r.buf.len());
        }
    }
    assert!(received == file, "file differs");
    assert!(
        pieces <= 2 * chunk_count,
        "{pieces} pieces for {chunk_count} chunks"
    );
    assert!(
        zero_copy * 100 >= SIZE * 99,
        "only {zero_copy} bytes passed through"
    );
}

// ---------------------------------------------------------------------------
// Invariance under chunking (the fuzz target's invariant, on stable)

/// Builds a body from pieces that are likely to make framing decisions hard.
fn soup(rng: &mut Rng, boundary: &str) -> Vec<u8> {
    let tokens: Vec<Vec<u8>> = [
        "\n".to_string(),
        "\r\n".into(),
        "\r".into(),
        "-".into(),
        "--".into(),
        format!("--{boundary}"),
        format!("\n--{boundary}"),
        format!("\r\n--{boundary}\r\n"),
        format!("\n--{boundary}--"),
        format!("\n--{boundary}")[..boundary.len() + 2].to_string(),
        "Content-Disposition: form-data; name=\"x\"".into(),
        "content-disposition:form-data;name=y;filename=\"\"".into(),
        "; filename=\"f\\\"\"".into(),
        "Content-Type: a/b".into(),
        ":".into(),
        " ".into(),
        "\t".into(),
        "\0".into(),
        "abc".into(),
        "\n\n".into(),
        "\r\n\r\n".into(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    let mut body = Vec::new();
    for _ in 0..rng.below(60) {
        if rng.below(8) == 0 {
            let n = rng.below(6);
            body.extend(rng.bytes(n));
        } else {
            body.extend_from_slice(&tokens[rng.below(tokens.len())]);
        }
    }
    body
}

/// Builds a well-formed body and the parts it holds.
fn well_formed(rng: &mut Rng, boundary: &str) -> (Vec<u8>, Vec<(PartHeaders, Vec<u8>)>) {
    let crlf = rng.below(2) == 0;
    let nl: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let needle = format!("\n--{boundary}");
    let preamble_len = rng.below(3);
    let mut body: Vec<u8> = rng
        .bytes(preamble_len)
        .into_iter()
        .filter(|&b| b != b'\n')
        .collect();
    if !body.is_empty() {
        body.extend_from_slice(nl);
    }
    let mut parts = Vec::new();
    for i in 0..rng.below(5) {
        let name = format!("p{i}");
        let filename = (rng.below(2) == 0).then(|| format!("f{}", rng.below(10)));
        let content_type = (rng.below(2) == 0).then(|| "image/png".to_string());
        let len = [0, 1, 2, 10, 300, 5000][rng.below(6)];
        let alphabet = b"\r\n-xb";
        let mut data: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        while let Some(at) = memchr::memmem::find(&data, needle.as_bytes()) {
            data[at] = b'x';
        }
        body.extend_from_slice(format!("--{boundary}").as_bytes());
        body.extend_from_slice(nl);
        if let Some(ct) = &content_type {
            body.extend_from_slice(format!("Content-Type: {ct}").as_bytes());
            body.extend_from_slice(nl);
        }
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if let Some(f) = &filename {
            body.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        body.extend_from_slice(nl);
        body.extend_from_slice(nl);
        body.extend_from_slice(&data);
        body.extend_from_slice(nl);
        let mut expected = data;
        if !crlf && expected.last() == Some(&b'\r') {
            expected.pop();
        }
        parts.push((
            PartHeaders {
                name,
                filename,
                content_type,
            },
            expected,
        ));
    }
    body.extend_from_slice(format!("--{boundary}--").as_bytes());
    body.extend_from_slice(nl);
    (body, parts)
}

#[tokio::test]
async fn chunking_never_changes_the_result() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let small = Limits {
        max_header_bytes: 64,
        max_parts: 2,
    };
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for round in 0..3000 {
        let boundary = ["b", "==x==", "--------------------------ab8f46a7"][round % 3];
        let limits = if rng.below(4) == 0 {
            small
        } else {
            Limits::default()
        };
        let body = if round % 2 == 0 {
            let (body, parts) = well_formed(&mut rng, boundary);
            if limits == Limits::default() {
                let out = collect(whole(&body), boundary, limits).await;
                assert_eq!(
                    out,
                    Outcome { parts, end: Ok(()) },
                    "{:?}",
                    String::from_utf8_lossy(&body)
                );
            }
            // sometimes damage it
            let mut body = body;
            match rng.below(4) {
                0 => body.truncate(rng.below(body.len() + 1)),
                1 => {
                    let at = rng.below(body.len() + 1);
                    let extra = soup(&mut rng, boundary);
                    body.splice(at..at, extra);
                }
                _ => {}
            }
            body
        } else {
            soup(&mut rng, boundary)
        };
        let expected = collect(whole(&body), boundary, limits).await;
        let what = match &expected.end {
            Ok(()) if expected.parts.is_empty() => "no parts".to_string(),
            Ok(()) => "parts".to_string(),
            Err(e) => e.clone(),
        };
        *seen.entry(what).or_default() += 1;
        let context = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(
            collect(fixed(&body, 1), boundary, limits).await,
            expected,
            "{context:?}"
        );
        let max = 1 + rng.below(16);
        let split = random_split(&body, &mut rng, max);
        assert_eq!(
            collect(split, boundary, limits).await,
            expected,
            "{context:?}"
        );
        let skipping = collect_skipping(random_split(&body, &mut rng, 8), boundary, limits).await;
        assert_eq!(skipping.end, expected.end, "{context:?}");
        // A skipped last part is only known to be complete if a later
        // `next_part` succeeds.
        let mut complete = expected.parts.len();
        if expected.end.is_err() && complete % 2 == 0 && complete > 0 {
            complete -= 1;
        }
        assert!(
            (complete..=expected.parts.len()).contains(&skipping.parts.len()),
            "{context:?}"
        );
        for (i, ((h1, d1), (h2, d2))) in skipping.parts.iter().zip(&expected.parts).enumerate() {
            assert_eq!(h1, h2, "{context:?}");
            if i % 2 == 0 {
                assert_eq!(d1, d2, "{context:?}");
            }
        }
    }
    // the generator reaches every kind of outcome
    for what in [
        "no parts",
        "parts",
        "Incomplete",
        "HeaderTooLarge",
        "TooManyParts",
    ] {
        assert!(seen.get(what).copied().unwrap_or(0) >= 20, "{seen:?}");
    }
}
