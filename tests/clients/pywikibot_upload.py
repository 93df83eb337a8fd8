#!/usr/bin/env python3
"""Uploads files to mwstore with the real pywikibot library and checks what comes back.

Usage: pywikibot_upload.py API_URL USER BOTNAME BOTPASSWORD
   or: MW_API=... MW_USER=... MW_BOTNAME=... MW_BOTPASSWORD=... pywikibot_upload.py

API_URL is the full api.php URL, e.g. http://127.0.0.1:8099/w/api.php. USER is the main
account (``Alice``), BOTNAME the bot password's name (``bot``) and BOTPASSWORD the bot
password itself. The optional environment variable MW_PREFIX sets the file name prefix
(default: a fresh random one, so the script can run repeatedly against one server).

pywikibot is configured the way its users configure a wiki it has no family file for: a
throw-away ``PYWIKIBOT_DIR`` holding a ``user-config.py`` with
``family_files['mwstore'] = API_URL`` (an ``AutoFamily``) and a ``password_file`` with a
``BotPassword`` entry. The only non-default settings are no write throttle and short retry
waits, so that a server fault fails the run quickly instead of hanging it, and a response
hook on pywikibot's HTTP session that records the exchanges for the failure report and
counts the chunk responses.

Checks: login (``site.user()``), a direct upload of a small PNG, a synchronous chunked upload
(64 KiB chunks) of a ~600 KB PNG, a chunked upload of a PNG whose chunk-final bytes are CR
(pywikibot frames multipart bodies with bare LF, so the server must drop one CR before each
boundary like PHP and report the bytes it kept, which pywikibot then re-sends), and an
``asynchronous=True`` chunked upload. Each file's ``latest_file_info`` (from the upload
response and from a fresh query) must carry the local sha1 and size; one is downloaded with
``FilePage.download``.

Prints one PASS/FAIL line per check and a closing summary line; exits 1 if any check
failed.
"""

import os
import random
import shutil
import struct
import sys
import tempfile
import zlib

from check_harness import (
    UPLOAD_RESPONSES,
    check,
    finish,
    make_png,
    png_chunk,
    png_head,
    random_rows,
    record,
    require,
    sha1,
)

CHUNK = 65536


def make_png_cr_at_chunk_ends(width, height, rng, chunk):
    """A valid PNG whose byte is 0x0D wherever a chunk of `chunk` bytes ends: at
    k*chunk - 1 (where the chunks end if every chunk arrives whole) and at k*(chunk - 1)
    (where they end once the server has dropped each chunk's final CR and the client
    re-sends from the offset the server reports).

    The pixel data is stored in deflate *stored* blocks, so every pixel byte sits at a
    known position in the file and can be set to 0x0D. A tEXt chunk of varying length in
    front of IDAT shifts the layout until none of those positions falls on a structural
    byte (a row's filter byte, a block header, a checksum)."""
    row = 3 * width + 1
    raw = random_rows(width, height, rng)
    nblocks = (len(raw) + 65534) // 65535
    zlen = 2 + 5 * nblocks + len(raw) + 4
    head = png_head(width, height)
    tail_len = 4 + 12  # IDAT CRC + IEND
    for pad in range(0, 4096):
        text = png_chunk(b"tEXt", b"Comment\x00" + b"x" * pad) if pad else b""
        idat_data = len(head) + len(text) + 8
        total = idat_data + zlen + tail_len
        positions = set()
        for k in range(1, total // (chunk - 1) + 1):
            positions.add(k * chunk - 1)
            positions.add(k * (chunk - 1))
        # The last byte of the file is never followed by a boundary the CR rule applies to.
        positions = sorted(p for p in positions if p < total - 1)
        targets = []
        for p in positions:
            q = p - idat_data - 2
            if q < 0:
                break
            within = q % 65540
            r = (q // 65540) * 65535 + within - 5
            if within < 5 or r >= len(raw) or r % row == 0:
                break
            targets.append(r)
        else:
            break
    else:
        raise RuntimeError("no PNG layout puts pixel bytes at every chunk end")
    for r in targets:
        raw[r] = 0x0D
    z = bytearray(b"\x78\x01")
    for i in range(0, len(raw), 65535):
        block = raw[i : i + 65535]
        final = 1 if i + 65535 >= len(raw) else 0
        z += bytes([final]) + struct.pack("<HH", len(block), len(block) ^ 0xFFFF) + block
    z += struct.pack(">I", zlib.adler32(bytes(raw)) & 0xFFFFFFFF)
    data = head + text + png_chunk(b"IDAT", bytes(z)) + png_chunk(b"IEND", b"")
    require(len(data) == total, "PNG layout miscalculated: %d != %d" % (len(data), total))
    require(zlib.decompress(bytes(z)) == bytes(raw), "stored-block zlib stream does not round-trip")
    for p in positions:
        require(data[p] == 0x0D, "byte %d of the CR PNG is %#x, not 0x0D" % (p, data[p]))
    return data, positions


def write_config(base, api, user, botname, botpassword):
    """Writes user-config.py and the password file pywikibot reads from PYWIKIBOT_DIR."""
    config = "\n".join(
        [
            "# Throw-away configuration written by pywikibot_upload.py.",
            "family_files['mwstore'] = %r" % api,
            "family = 'mwstore'",
            # An AutoFamily is a single-site family whose only code is its name.
            "mylang = 'mwstore'",
            "usernames['mwstore']['mwstore'] = %r" % user,
            "password_file = 'user-password.py'",
            "put_throttle = 0",
            "max_retries = 2",
            "retry_wait = 1",
            "retry_max = 2",
            "socket_timeout = (6.05, 60)",
            "console_encoding = 'utf-8'",
            "",
        ]
    )
    passwords = "(%r, BotPassword(%r, %r))\n" % (user, botname, botpassword)
    for name, text in (("user-config.py", config), ("user-password.py", passwords)):
        path = os.path.join(base, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, 0o600)


def main():
    keys = ("MW_API", "MW_USER", "MW_BOTNAME", "MW_BOTPASSWORD")
    if len(sys.argv) == 5:
        api, user, botname, botpassword = sys.argv[1:5]
    elif len(sys.argv) == 1 and all(k in os.environ for k in keys):
        api, user, botname, botpassword = (os.environ[k] for k in keys)
    else:
        print(__doc__)
        return 2
    # pywikibot reads options such as -dir: from sys.argv when it is imported.
    del sys.argv[1:]

    base = tempfile.mkdtemp(prefix="mwstore-pywikibot-")
    try:
        write_config(base, api, user, botname, botpassword)
        os.environ["PYWIKIBOT_DIR"] = base
        os.environ.pop("PYWIKIBOT_NO_USER_CONFIG", None)
        return run(base, user)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(base, user):
    import pywikibot
    import pywikibot.comms.http
    from pywikibot.exceptions import UploadError

    pywikibot.comms.http.session.hooks["response"].append(record)
    print("pywikibot %s" % pywikibot.__version__)

    rng = random.Random()
    prefix = os.environ.get("MW_PREFIX") or "Pywikibot-%08x-" % rng.getrandbits(32)
    files = {}

    def local(key, data):
        path = os.path.join(base, key + ".png")
        with open(path, "wb") as f:
            f.write(data)
        files[key] = (prefix + key + ".png", path, data)

    local("small", make_png(64, 48, rng))
    local("big", make_png(400, 500, rng))
    cr_png, cr_positions = make_png_cr_at_chunk_ends(400, 500, rng, CHUNK)
    local("cr", cr_png)
    local("async", make_png(360, 480, rng))
    local("second", make_png(64, 48, rng))

    state = {}

    def init():
        site = pywikibot.Site()
        state["site"] = site
        return "%r, %s, uploads %s" % (site, site.version(), "disabled" if site.is_uploaddisabled() else "enabled")

    if not check("site init (siteinfo, paraminfo)", init):
        return finish("pywikibot")
    site = state["site"]

    def login():
        site.login()
        require(site.logged_in(), "site.logged_in() is false after login")
        require(site.user() == user, "site.user() is %r, expected %r" % (site.user(), user))
        require(site.has_right("upload"), "no 'upload' right: %r" % (site.userinfo.get("rights"),))
        return "as %s, groups %s" % (site.user(), ",".join(site.userinfo.get("groups", [])))

    if not check("login with bot password (action=login)", login):
        return finish("pywikibot")

    def verify(key, page):
        """Compares the upload response's file info and a fresh query's with the local file."""
        name, _path, data = files[key]
        cached = page.latest_file_info
        require(cached.sha1 == sha1(data), "upload response sha1 %r != local %s" % (cached.sha1, sha1(data)))
        fresh = pywikibot.FilePage(site, "File:" + name)
        require(fresh.exists(), "File:%s does not exist after the upload" % name)
        info = fresh.latest_file_info
        require(info.sha1 == sha1(data), "imageinfo sha1 %r != local %s" % (info.sha1, sha1(data)))
        require(int(info.size) == len(data), "imageinfo size %r != %d" % (info.size, len(data)))
        require(info.mime == "image/png", "imageinfo mime %r" % (info.mime,))
        return fresh

    def upload(key, **kwargs):
        name, path, data = files[key]
        page = pywikibot.FilePage(site, "File:" + name)
        before = len(UPLOAD_RESPONSES)
        ok = page.upload(
            path,
            summary="pywikibot test upload of %s" % name,
            text="Uploaded by the pywikibot compatibility test.\n\n[[Category:Tests]]",
            ignore_warnings=True,
            **kwargs,
        )
        require(ok is True, "FilePage.upload returned %r" % (ok,))
        return page, UPLOAD_RESPONSES[before:]

    def direct():
        page, responses = upload("small")
        require(len(responses) == 1, "expected one action=upload request, saw %r" % (responses,))
        verify("small", page)
        return "%s, sha1 %s" % (files["small"][0], sha1(files["small"][2]))

    check("direct upload (multipart file)", direct)

    def chunked(key, asynchronous=False):
        name, _path, data = files[key]
        page, responses = upload(key, chunk_size=CHUNK, asynchronous=asynchronous)
        verify(key, page)
        results = [r for r, _ in responses]
        polls = results.count("Poll")
        shortened = [o for r, o in responses if r == "Continue" and o is not None and int(o) % CHUNK]
        return page, results, polls, shortened

    def chunked_sync():
        data = files["big"][2]
        _page, results, polls, _ = chunked("big")
        require(polls == 0, "synchronous upload answered Poll: %r" % (results,))
        need = (len(data) + CHUNK - 1) // CHUNK
        require(
            results.count("Continue") >= need - 1,
            "expected %d Continue responses, saw %r" % (need - 1, results),
        )
        return "%d bytes, %d chunk requests + commit" % (len(data), len(results) - 1)

    check("chunked upload (64 KiB chunks, stash, commit by filekey)", chunked_sync)

    def chunked_cr():
        data = files["cr"][2]
        _page, results, _polls, shortened = chunked("cr")
        # Bare-LF framing: the server drops the CR before each boundary (PHP's rule) and
        # reports the bytes it kept; pywikibot re-sends from there.
        require(
            shortened,
            "no Continue offset was short of a whole chunk, although every chunk ended in CR: "
            "the server did not drop the CR before the bare-LF boundary, or did not report "
            "the bytes it kept (responses %r)" % (results,),
        )
        return "%d bytes, CR at %d chunk ends, %d chunk requests, %d offsets corrected by the server" % (
            len(data),
            len(cr_positions),
            len(results) - 1,
            len(shortened),
        )

    check("chunked upload whose chunks end in CR (bare-LF framing)", chunked_cr)

    def chunked_async():
        data = files["async"][2]
        page, results, polls, _ = chunked("async", asynchronous=True)
        state["async_page"] = page
        mode = "async, %d Poll answers" % polls if polls else "answered synchronously"
        return "%d bytes, %d upload requests (%s)" % (len(data), len(results), mode)

    check("chunked upload, asynchronous=True", chunked_async)

    def download():
        name, _path, data = files["big"]
        page = pywikibot.FilePage(site, "File:" + name)
        target = os.path.join(base, "downloaded.png")
        ok = page.download(target)
        with open(target, "rb") as f:
            got = f.read()
        require(
            got == data,
            "download of %s gave %d bytes (sha1 %s), expected %d (sha1 %s)"
            % (page.latest_file_info.url, len(got), sha1(got), len(data), sha1(data)),
        )
        require(ok is True, "FilePage.download returned %r" % (ok,))
        return "%d bytes from %s" % (len(got), page.latest_file_info.url)

    check("download (FilePage.download)", download)

    def reupload_refused():
        # A new version of an existing name without ignore_warnings must be refused with
        # the 'exists' warning; pywikibot raises UploadError for it.
        name, _path, data = files["small"]
        page = pywikibot.FilePage(site, "File:" + name)
        try:
            page.upload(files["second"][1], summary="refused re-upload", ignore_warnings=False)
        except UploadError as e:
            require(e.code == "exists", "UploadError code %r, expected 'exists'" % (e.code,))
        else:
            raise AssertionError("no UploadError for a re-upload without ignore_warnings")
        fresh = pywikibot.FilePage(site, "File:" + name)
        require(fresh.latest_file_info.sha1 == sha1(data), "file changed after a refused re-upload")
        return "UploadError('exists'), file unchanged"

    check("re-upload existing name, ignore_warnings=False", reupload_refused)
    return finish("pywikibot")


if __name__ == "__main__":
    sys.exit(main())
