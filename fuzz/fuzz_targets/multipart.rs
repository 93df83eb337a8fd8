//! Fuzz target for the multipart reader: it must never panic, and the result
//! must not depend on how the body is split into chunks.
//!
//! Input layout: byte 0 picks the boundary and the limits, bytes 1..9 seed
//! the chunk sizes, the rest is the body.

#![no_main]

use bytes::Bytes;
use futures_executor::block_on;
use futures_util::stream;
use libfuzzer_sys::fuzz_target;
use mwstore_multipart::{Limits, MultipartError, MultipartReader, PartHeaders};
use std::convert::Infallible;

/// The parts read to their end, then how reading stopped.
#[derive(Debug, PartialEq)]
struct Outcome {
    parts: Vec<(PartHeaders, Vec<u8>)>,
    end: Result<(), String>,
}

fn kind(e: &MultipartError) -> String {
    format!("{e:?}")
}

async fn collect(chunks: Vec<Bytes>, boundary: &str, limits: Limits) -> Outcome {
    let items: Vec<Result<Bytes, Infallible>> = chunks.into_iter().map(Ok).collect();
    let mut reader = MultipartReader::new(stream::iter(items), boundary, limits);
    let mut parts = Vec::new();
    loop {
        let headers = match reader.next_part().await {
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
            match reader.read_chunk().await {
                Ok(Some(piece)) => {
                    assert!(!piece.is_empty());
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

fn split(body: &Bytes, mut seed: u64, max: usize) -> Vec<Bytes> {
    let mut chunks = Vec::new();
    let mut at = 0;
    seed |= 1;
    while at < body.len() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let end = (at + 1 + (seed % max as u64) as usize).min(body.len());
        chunks.push(body.slice(at..end));
        at = end;
    }
    chunks
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let boundary = ["b", "==x==", "--------------------------ab8f46a7"][data[0] as usize % 3];
    let limits = if data[0] & 4 == 0 {
        Limits::default()
    } else {
        Limits {
            max_header_bytes: 64,
            max_parts: 3,
        }
    };
    let mut seed_bytes = [0u8; 8];
    seed_bytes.copy_from_slice(&data[1..9]);
    let seed = u64::from_le_bytes(seed_bytes);
    let body = Bytes::copy_from_slice(&data[9..]);

    let expected = block_on(collect(vec![body.clone()], boundary, limits));
    let random = block_on(collect(split(&body, seed, 64), boundary, limits));
    assert_eq!(random, expected, "random split");
    if body.len() <= 4096 {
        let bytewise = block_on(collect(split(&body, seed, 1), boundary, limits));
        assert_eq!(bytewise, expected, "1-byte split");
    }
});
