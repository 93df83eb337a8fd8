#!/usr/bin/env python3
"""Uploads files to mwstore with the real mwclient library and checks what comes back.

Usage: mwclient_upload.py API_URL LGNAME LGPASSWORD
   or: MW_API=... MW_LGNAME=... MW_LGPASSWORD=... mwclient_upload.py

API_URL is the full api.php URL, e.g. http://127.0.0.1:8099/w/api.php. LGNAME is a bot
password login name (``Alice@bot``). The optional environment variable MW_PREFIX sets the
file name prefix (default: a fresh random one, so the script can run repeatedly against
one server).

mwclient is used exactly as its users use it: ``Site(host, path=..., scheme=...)``,
``login``, ``upload``, ``images[name]``, ``Image.download`` and ``allimages``. The only
non-default settings are short retry waits and a request timeout, so that a server fault
fails the run quickly instead of hanging it, and a response hook on the HTTP session that
records the exchange for the failure report.

Prints one PASS/FAIL line per check and a closing summary line; exits 1 if any check
failed.
"""

import io
import json
import os
import random
import struct
import sys
import time
import urllib.parse

import mwclient
import mwclient.client
import mwclient.errors
import requests

from check_harness import check, finish, make_png, record, require, sha1

def make_jpeg(width, height, make, rng):
    """A real baseline greyscale JPEG of the given size with an EXIF APP1 segment (Make
    tag): every 8x8 block is flat grey, coded with one-symbol Huffman tables (two bits a
    block), so the file decodes completely. A random quantisation table makes each call's
    file distinct."""
    make_bytes = make.encode("ascii") + b"\x00"
    tiff = b"II*\x00" + struct.pack("<I", 8)
    tiff += struct.pack("<H", 1)
    tiff += struct.pack("<HHII", 0x010F, 2, len(make_bytes), 8 + 2 + 12 + 4)
    tiff += struct.pack("<I", 0) + make_bytes
    app1 = b"Exif\x00\x00" + tiff
    out = b"\xff\xd8"
    out += b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    out += b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(rng.randrange(1, 256) for _ in range(64))
    out += b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + bytes([1, 0x11, 0])
    # DC table 0 and AC table 0, each with a single one-bit code: DC difference 0, and EOB.
    one_code = bytes([1] + [0] * 15) + b"\x00"
    out += b"\xff\xc4" + struct.pack(">H", 2 + 2 * 18) + b"\x00" + one_code + b"\x10" + one_code
    out += b"\xff\xda" + struct.pack(">HB", 8, 1) + bytes([1, 0x00, 0, 63, 0])
    bits = 2 * ((width + 7) // 8) * ((height + 7) // 8)
    data = bytearray((bits + 7) // 8)
    if bits % 8:
        data[-1] = (1 << (8 - bits % 8)) - 1  # the last byte is padded with 1 bits
    out += bytes(data) + b"\xff\xd9"
    return out


def main():
    if len(sys.argv) == 4:
        api, lgname, lgpassword = sys.argv[1:4]
    elif len(sys.argv) == 1 and all(k in os.environ for k in ("MW_API", "MW_LGNAME", "MW_LGPASSWORD")):
        api, lgname, lgpassword = os.environ["MW_API"], os.environ["MW_LGNAME"], os.environ["MW_LGPASSWORD"]
    else:
        print(__doc__)
        return 2

    url = urllib.parse.urlsplit(api)
    host = url.netloc
    path = url.path[: -len("api.php")] if url.path.endswith("api.php") else url.path
    rng = random.Random()
    prefix = os.environ.get("MW_PREFIX") or "Mwclient-%08x-" % rng.getrandbits(32)

    png = make_png(64, 48, rng)
    jpeg = make_jpeg(80, 60, "mwclient test camera", rng)
    png2 = make_png(64, 48, rng)
    png_name = prefix + "image.png"
    jpeg_name = prefix + "photo.jpg"

    state = {}

    session = requests.Session()
    session.headers["User-Agent"] = "mwstore-test " + mwclient.client.USER_AGENT
    session.hooks["response"].append(record)

    def init():
        # Short retry waits: a 5xx or an unreadable response fails in seconds, not minutes.
        state["site"] = mwclient.Site(
            host,
            path=path,
            scheme=url.scheme,
            pool=session,
            max_retries=2,
            retry_timeout=1,
            connection_options={"timeout": 60},
        )
        return "version %s" % ".".join(str(x) for x in state["site"].version)

    if not check("site init (siteinfo+userinfo)", init):
        return finish("mwclient")
    site = state["site"]

    def login():
        site.login(lgname, lgpassword)
        require(site.logged_in, "site.logged_in is false after login")
        require("upload" in site.rights, "'upload' not in rights: %r" % (site.rights,))
        return "as %s, %d rights" % (site.username, len(site.rights))

    if not check("login with bot password", login):
        return finish("mwclient")

    def upload(data, name, ignore=False):
        result = site.upload(
            io.BytesIO(data),
            filename=name,
            description="Uploaded by the mwclient compatibility test.\n\n[[Category:Tests]]",
            comment="mwclient test upload of %s" % name,
            ignore=ignore,
        )
        require(isinstance(result, dict), "upload returned %r" % (result,))
        require(result.get("result") == "Success", "upload result is not Success: %s" % json.dumps(result))
        require(result.get("filename") == name, "upload filename %r != %r" % (result.get("filename"), name))
        info = result.get("imageinfo") or {}
        require(info.get("sha1") == sha1(data), "upload imageinfo.sha1 %r != %s" % (info.get("sha1"), sha1(data)))
        return result

    def read_back(data, name, mime):
        image = site.images[name]
        require(image.exists, "File:%s does not exist after upload" % name)
        info = image.imageinfo
        require(info.get("sha1") == sha1(data), "imageinfo sha1 %r != local %s" % (info.get("sha1"), sha1(data)))
        require(int(info.get("size", -1)) == len(data), "imageinfo size %r != %d" % (info.get("size"), len(data)))
        require(info.get("mime") == mime, "imageinfo mime %r != %r" % (info.get("mime"), mime))
        downloaded = image.download()
        require(
            downloaded == data,
            "download of %s gave %d bytes (sha1 %s), expected %d (sha1 %s)"
            % (info.get("url"), len(downloaded), sha1(downloaded), len(data), sha1(data)),
        )
        return "sha1 %s, %d bytes downloaded from %s" % (info["sha1"], len(downloaded), info.get("url"))

    check("upload PNG", lambda: "%s sha1 %s" % (upload(png, png_name)["filename"], sha1(png)))
    check("read back PNG (imageinfo sha1, download)", lambda: read_back(png, png_name, "image/png"))
    check("upload JPEG", lambda: "%s sha1 %s" % (upload(jpeg, jpeg_name)["filename"], sha1(jpeg)))
    check("read back JPEG (imageinfo sha1, download)", lambda: read_back(jpeg, jpeg_name, "image/jpeg"))

    def reupload_without_ignore():
        try:
            result = site.upload(
                io.BytesIO(png2),
                filename=png_name,
                description="second version",
                comment="mwclient test re-upload without ignore",
                ignore=False,
            )
        except mwclient.errors.FileExists:
            pass
        else:
            raise AssertionError("no FileExists raised; upload returned %s" % json.dumps(result))
        info = site.images[png_name].imageinfo
        require(info.get("sha1") == sha1(png), "file changed after a refused re-upload: sha1 %r" % info.get("sha1"))
        return "FileExists raised on the 'exists' warning; file unchanged"

    check("re-upload existing name without ignore ('exists' warning)", reupload_without_ignore)

    def reupload_with_ignore():
        # MediaWiki refuses two versions of one name within the same second.
        time.sleep(1.1)
        upload(png2, png_name, ignore=True)
        image = site.images[png_name]
        require(
            image.imageinfo.get("sha1") == sha1(png2),
            "imageinfo sha1 %r != new version's %s" % (image.imageinfo.get("sha1"), sha1(png2)),
        )
        downloaded = image.download()
        require(downloaded == png2, "download gave %d bytes (sha1 %s), expected the new version" % (len(downloaded), sha1(downloaded)))
        history = list(image.imagehistory())
        require(len(history) == 2, "imagehistory has %d entries, expected 2: %r" % (len(history), history))
        require(
            [h.get("sha1") for h in history] == [sha1(png2), sha1(png)],
            "imagehistory sha1s %r, expected newest first %r" % ([h.get("sha1") for h in history], [sha1(png2), sha1(png)]),
        )
        return "new version on top, history of 2"

    check("re-upload existing name with ignore=True", reupload_with_ignore)

    def list_all():
        images = list(site.allimages(prefix=prefix))
        names = sorted(img.page_title for img in images)
        require(names == sorted([png_name, jpeg_name]), "allimages(prefix=%r) listed %r" % (prefix, names))
        by_name = {img.page_title: img for img in images}
        require(
            by_name[png_name].imageinfo.get("sha1") == sha1(png2),
            "allimages sha1 of %s is %r" % (png_name, by_name[png_name].imageinfo.get("sha1")),
        )
        require(
            by_name[jpeg_name].imageinfo.get("sha1") == sha1(jpeg),
            "allimages sha1 of %s is %r" % (jpeg_name, by_name[jpeg_name].imageinfo.get("sha1")),
        )
        return "lists %s" % ", ".join(names)

    check("allimages(prefix=...) lists both files", list_all)

    # Files larger than site.chunk_size go up in chunks (stash, offsets, then the commit).
    big = make_png(300, 300, rng)
    big_name = "Chunked-" + prefix + "big.png"

    def chunked_upload():
        site.chunk_size = 64 * 1024
        require(len(big) > 3 * site.chunk_size, "test file too small to be chunked")
        result = site.upload(
            io.BytesIO(big),
            filename=big_name,
            description="Chunked upload by the mwclient compatibility test.",
            comment="mwclient chunked upload",
        )
        # mwclient returns the whole response for chunked uploads.
        up = result.get("upload", result)
        require(up.get("result") == "Success", "chunked upload result: %s" % json.dumps(result)[:500])
        require(up.get("filename") == big_name, "chunked upload filename %r" % (up.get("filename"),))
        return "%d bytes in %d-byte chunks" % (len(big), site.chunk_size)

    check("chunked upload (chunk_size 64 KiB)", chunked_upload)
    check("read back chunked upload (imageinfo sha1, download)", lambda: read_back(big, big_name, "image/png"))
    return finish("mwclient")


if __name__ == "__main__":
    sys.exit(main())
