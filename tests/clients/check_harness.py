"""What the client scripts share: a log of recent HTTP exchanges for failure reports, the
PASS/FAIL bookkeeping, and small helpers for building test files.

Imported by mwclient_upload.py and pywikibot_upload.py, which run from this directory.
"""

import hashlib
import json
import struct
import sys
import time
import traceback
import zlib

RESULTS = {"passed": 0, "failed": 0}
EXCHANGES = []
# upload.result / upload.offset of every action=upload response, in order.
UPLOAD_RESPONSES = []


def record(response, *_args, **_kwargs):
    """requests response hook: keeps a short log of every exchange."""
    req = response.request
    body = req.body
    if isinstance(body, bytes):
        shown = body[:700].decode("utf-8", "replace")
        if len(body) > 700:
            shown += "... (%d bytes)" % len(body)
    else:
        shown = (body or "")[:700]
    ctype = response.headers.get("Content-Type", "")
    if ctype.startswith(("application/json", "text")):
        try:
            content = response.content
        except Exception:  # noqa: BLE001 - a streamed body may not be readable here
            content = b"<streamed>"
        text = content[:1500].decode("utf-8", "replace")
        if ctype.startswith("application/json"):
            try:
                upload = json.loads(content).get("upload")
            except (ValueError, AttributeError):
                upload = None
            if isinstance(upload, dict):
                UPLOAD_RESPONSES.append((upload.get("result"), upload.get("offset")))
    else:
        text = "<%s, %s bytes>" % (ctype or "?", response.headers.get("Content-Length", "?"))
    EXCHANGES.append(
        "%s %s\n    body: %s\n    -> HTTP %s %s\n    %s"
        % (
            req.method,
            req.url,
            shown.replace("\n", "\\n "),
            response.status_code,
            {
                k: v
                for k, v in response.headers.items()
                if k.lower().startswith(("mediawiki", "content-type", "retry", "x-"))
            },
            text,
        )
    )
    del EXCHANGES[:-12]


def check(name, func):
    """Runs one check; records PASS with func's detail or FAIL with the exception."""
    start = time.time()
    EXCHANGES.clear()
    try:
        detail = func()
    except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
        RESULTS["failed"] += 1
        print("FAIL %s (%.1fs): %s: %s" % (name, time.time() - start, type(e).__name__, e))
        traceback.print_exc(limit=-6, chain=False, file=sys.stdout)
        print("  last HTTP exchanges:")
        for ex in EXCHANGES:
            print("  " + ex)
        sys.stdout.flush()
        return False
    RESULTS["passed"] += 1
    print("PASS %s (%.1fs): %s" % (name, time.time() - start, detail or ""))
    sys.stdout.flush()
    return True


def require(cond, message):
    if not cond:
        raise AssertionError(message)


def finish(client):
    """Prints the summary line; the exit status (1 if any check failed)."""
    print("%s checks: %d ok, %d failing" % (client, RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_head(width, height):
    """PNG signature and a truecolour IHDR."""
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))


def random_rows(width, height, rng):
    """Raw truecolour scanlines (filter byte 0 + random pixels)."""
    row = 3 * width + 1
    raw = bytearray(rng.randbytes(row * height))
    raw[::row] = bytes(height)
    return raw


def make_png(width, height, rng):
    """A valid truecolour PNG with random pixels (deflated, so barely smaller than raw)."""
    raw = random_rows(width, height, rng)
    return png_head(width, height) + png_chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + png_chunk(b"IEND", b"")


def sha1(data):
    return hashlib.sha1(data).hexdigest()
