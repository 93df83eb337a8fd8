#!/usr/bin/env bash
# Measures mwstore and, when it is installed on this machine, the reference MediaWiki 1.39 with
# the same `mwstore bench` scenarios, and prints both tables and the ratios side by side.
#
#   bench/compare.sh [--quick] [--quick-reference] [--thumbs]
#     --quick            small (50 uploads per concurrency) + chunked 100 MiB only (and the
#                        thumbnails), on both
#     --quick-reference  full run on mwstore, quick run on MediaWiki
#     --thumbs           only the thumbnail scenario (about ten minutes, most of it
#                        MediaWiki rendering the SVG), on both
#     --no-reference     mwstore only (a before/after run of a change)
#
# mwstore: a release build on a temporary data directory (4 GiB uploads allowed), with a user
# and a bot password made for the run. MediaWiki: ../shared/tools/mediawiki-reference/setup.sh
# on /tmp/mwanchor-bench, port 8082, when that script exists and the mediawiki package is
# installed (needs root); its php-fpm master and workers are sampled for memory (and the
# ImageMagick processes they start). The binary is taken from $CARGO_TARGET_DIR (default
# target/) and hard-linked into the run's directory, so a rebuild meanwhile does not swap it.
# Figures (JSON) are left in $BENCH_OUT (default: a new directory under /tmp).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QUICK=0
QUICK_REF=0
THUMBS_ONLY=0
NO_REF=0
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1; QUICK_REF=1 ;;
    --quick-reference) QUICK_REF=1 ;;
    --thumbs) THUMBS_ONLY=1 ;;
    --no-reference) NO_REF=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
QUICK_ARGS=(--small-count 50 --size-mib 100)
THUMBS_ARGS=(--scenario thumbs)

REF_DIR="$ROOT/../shared/tools/mediawiki-reference"
REF_DATA=/tmp/mwanchor-bench
REF_PORT=8082
OUT="${BENCH_OUT:-$(mktemp -d /tmp/mwstore-bench-out.XXXXXX)}"
mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/mwstore-bench.XXXXXX)"
SERVER_PID=""
REF_STARTED=0

cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$REF_STARTED" = 1 ]; then
    "$REF_DIR/stop.sh" "$REF_DATA" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "== building mwstore (release)"
(cd "$ROOT" && cargo build --release --bin mwstore)
BUILT="${CARGO_TARGET_DIR:-$ROOT/target}/release/mwstore"
BIN="$WORK/mwstore"
ln "$BUILT" "$BIN" 2>/dev/null || cp "$BUILT" "$BIN"

echo "== machine"
CORES="$(nproc)"
CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
MEM="$(awk '/MemTotal/ {printf "%d MiB", $2/1024}' /proc/meminfo)"
echo "$CORES cores, $CPU, $MEM, $(uname -sr)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$THUMBS_ONLY" = 0 ]; then
  # What the disk under the data directory sustains for a 1 GiB sequential, synced write.
  DISK="$(dd if=/dev/zero of="$WORK/dd.test" bs=1M count=1024 conv=fdatasync 2>&1 | tail -n1)"
  rm -f "$WORK/dd.test"
  echo "disk ($WORK): $DISK"
  echo "$DISK" > "$OUT/disk.txt"
fi

echo "== mwstore"
# The reference wiki's file types (SVG among them; MediaWiki's default list has none).
cat > "$WORK/config.toml" <<EOF
max_upload_size = 4294967296
file_extensions = ["png", "gif", "jpg", "jpeg", "webp", "svg", "pdf", "tif", "tiff", "ogg", "oga", "ogv", "opus", "flac", "wav", "webm", "mp3", "mpg", "mpeg", "mid", "midi", "xcf"]
EOF
COMMON=(--data-dir "$WORK/data" --config "$WORK/config.toml")
: > "$WORK/serve.log"
"$BIN" serve --listen 127.0.0.1:0 "${COMMON[@]}" >> "$WORK/serve.log" 2>&1 &
SERVER_PID=$!
API=""
for _ in $(seq 1 100); do
  API="$(sed -n 's/^mwstore listening on \([^ ]*\).*/\1/p' "$WORK/serve.log" || true)"
  [ -n "$API" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$API" ] || { echo "mwstore did not start" >&2; cat "$WORK/serve.log" >&2; exit 1; }
"$BIN" user add BenchUser --password "bench-user-password-1" "${COMMON[@]}" >/dev/null
BOT_JSON="$("$BIN" botpassword add BenchUser bot --json "${COMMON[@]}")"
LGNAME="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["lgname"])' "$BOT_JSON")"
export MWSTORE_BENCH_PASSWORD
MWSTORE_BENCH_PASSWORD="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["lgpassword"])' "$BOT_JSON")"
echo "API $API, pid $SERVER_PID, user $LGNAME"
ARGS=()
[ "$QUICK" = 1 ] && ARGS=("${QUICK_ARGS[@]}")
[ "$THUMBS_ONLY" = 1 ] && ARGS=("${THUMBS_ARGS[@]}")
"$BIN" bench --api "$API" --user "$LGNAME" --password-env MWSTORE_BENCH_PASSWORD \
  --server-pid "$SERVER_PID" --json "$OUT/mwstore.json" --work-dir "$WORK" "${ARGS[@]}" \
  | tee "$OUT/mwstore.txt" || echo "(mwstore bench reported failures)"
kill -TERM "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

echo
echo "== MediaWiki (reference)"
HAVE_REF=0
if [ "$NO_REF" = 1 ]; then
  echo "reference skipped (--no-reference)"
elif [ ! -x "$REF_DIR/setup.sh" ]; then
  echo "reference absent: $REF_DIR/setup.sh not found"
elif ! dpkg -s mediawiki >/dev/null 2>&1; then
  echo "reference absent: the mediawiki package is not installed"
elif [ "$(id -u)" -ne 0 ]; then
  echo "reference absent: setting it up needs root"
else
  REF_STARTED=1
  "$REF_DIR/setup.sh" "$REF_DATA" "$REF_PORT" > "$OUT/reference-setup.log" 2>&1 \
    || { echo "reference setup failed (see $OUT/reference-setup.log)"; REF_STARTED=0; }
  if [ "$REF_STARTED" = 1 ]; then
    HAVE_REF=1
    REF_API="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api"])' "$REF_DATA/credentials.json")"
    REF_USER="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["users"]["Alice"]["botname"])' "$REF_DATA/credentials.json")"
    export MWSTORE_REF_PASSWORD
    MWSTORE_REF_PASSWORD="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["users"]["Alice"]["botpassword"])' "$REF_DATA/credentials.json")"
    FPM_PID="$(cat "$REF_DATA/run/php-fpm.pid")"
    echo "API $REF_API, php-fpm master pid $FPM_PID, user $REF_USER"
    ARGS=()
    if [ "$THUMBS_ONLY" = 1 ]; then
      ARGS=("${THUMBS_ARGS[@]}")
    elif [ "$QUICK_REF" = 1 ]; then
      ARGS=("${QUICK_ARGS[@]}")
      echo "(quick run: ${QUICK_ARGS[*]})"
    fi
    "$BIN" bench --api "$REF_API" --user "$REF_USER" --password-env MWSTORE_REF_PASSWORD \
      --server-pid "$FPM_PID" --json "$OUT/mediawiki.json" --work-dir "$WORK" "${ARGS[@]}" \
      | tee "$OUT/mediawiki.txt" || echo "(mwstore bench reported failures on MediaWiki)"
    "$REF_DIR/stop.sh" "$REF_DATA" >/dev/null 2>&1 || true
    REF_STARTED=0
  fi
fi

echo
echo "== side by side"
python3 - "$OUT/mwstore.json" "$OUT/mediawiki.json" "$HAVE_REF" <<'EOF'
import json, sys
ours = json.load(open(sys.argv[1]))
ref = json.load(open(sys.argv[2])) if sys.argv[3] == "1" else None

def f(v, d=1):
    return "-" if v is None else f"{v:.{d}f}"

def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.1f}x"

def rss(r):
    r = r.get("rss") or {}
    # MediaWiki: largest single worker; mwstore: its one process.
    return r.get("max_process_rss_mib") if r.get("processes", 1) > 1 else r.get("peak_rss_mib")

def tree(r):
    return (r.get("rss") or {}).get("tree_peak_rss_mib")

print(f"mwstore {ours['mwstore_version']} ({ours['server']['generator']}) "
      f"vs {ref['server']['generator'] + ' (reference)' if ref else 'no reference'}")
print("ratios: rates mwstore/MediaWiki; latencies MediaWiki/mwstore (higher is better for mwstore)")
if ours.get("small"):
    print()
    print("small uploads")
    print(f"{'conc':>5} | {'uploads/s':>21} {'ratio':>7} | {'p50 ms':>17} {'ratio':>7} | "
          f"{'p99 ms':>17} {'ratio':>7} | {'RSS MiB (MW: worker/all)':>26}")
    refsmall = {r["concurrency"]: r for r in (ref or {}).get("small", [])}
    for r in ours.get("small", []):
        m = refsmall.get(r["concurrency"], {})
        print(f"{r['concurrency']:>5} | {f(r['uploads_per_s']):>10} {f(m.get('uploads_per_s')):>10} "
              f"{ratio(r['uploads_per_s'], m.get('uploads_per_s')):>7} | "
              f"{f(r['p50_ms']):>8} {f(m.get('p50_ms')):>8} {ratio(m.get('p50_ms'), r['p50_ms']):>7} | "
              f"{f(r['p99_ms']):>8} {f(m.get('p99_ms')):>8} {ratio(m.get('p99_ms'), r['p99_ms']):>7} | "
              f"{f(rss(r)):>8} {f(rss(m) if m else None):>8}/{f(tree(m) if m else None):<8}")
if ours.get("chunked"):
    print()
    print("chunked uploads (mwstore | MediaWiki)")
    print(f"{'MiB':>5} {'chunk':>5} | {'MB/s':>15} {'ratio':>6} | {'chunk p50 ms':>17} | "
          f"{'final chunk ms':>17} {'ratio':>7} | {'commit ms':>17} {'ratio':>7} | {'RSS MiB (MW: worker/all)':>26}")
    refchunk = {(r["size_mib"], r["chunk_mib"]): r for r in (ref or {}).get("chunked", [])}
    for r in ours.get("chunked", []):
        m = refchunk.get((r["size_mib"], r["chunk_mib"]), {})
        if r.get("failed"):
            print(f"{r['size_mib']:>5} {r['chunk_mib']:>5} | mwstore failed: {r.get('error')}")
            continue
        if m.get("failed"):
            m = {}
        print(f"{r['size_mib']:>5} {r['chunk_mib']:>5} | {f(r['ingest_mb_s']):>7} {f(m.get('ingest_mb_s')):>7} "
              f"{ratio(r['ingest_mb_s'], m.get('ingest_mb_s')):>6} | "
              f"{f(r['chunk_p50_ms']):>8} {f(m.get('chunk_p50_ms')):>8} | "
              f"{f(r['final_chunk_ms']):>8} {f(m.get('final_chunk_ms')):>8} {ratio(m.get('final_chunk_ms'), r['final_chunk_ms']):>7} | "
              f"{f(r['commit_ms']):>8} {f(m.get('commit_ms')):>8} {ratio(m.get('commit_ms'), r['commit_ms']):>7} | "
              f"{f(rss(r)):>8} {f(rss(m) if m else None):>8}/{f(tree(m) if m else None):<8}")

# Thumbnails: fresh renders (thumb.php, time to first byte) and stored ones (req/s).
th = ours.get("thumbs")
rth = (ref or {}).get("thumbs") or {}
if th:
    print()
    print("fresh thumbnails, time to first byte (mwstore | MediaWiki), ratio MediaWiki/mwstore")
    print(f"{'source':>6} {'width':>5} | {'p50 ms':>17} {'ratio':>7} | {'max ms':>17} {'ratio':>7} | "
          f"{'ok/failed':>11} | {'peak RSS MiB: mwstore | MW tree, convert':>40}")
    rfresh = {(r["source"], r["width"]): r for r in rth.get("fresh", [])}
    for r in th.get("fresh", []):
        m = rfresh.get((r["source"], r["width"]), {})
        rr, mr = r.get("rss") or {}, m.get("rss") or {}
        okf = f"{r['ok']}/{r['failed']} {m.get('ok', '-')}/{m.get('failed', '-')}"
        print(f"{r['source']:>6} {r['width']:>5} | {f(r.get('ttfb_p50_ms')):>8} {f(m.get('ttfb_p50_ms')):>8} "
              f"{ratio(m.get('ttfb_p50_ms'), r.get('ttfb_p50_ms')):>7} | "
              f"{f(r.get('ttfb_max_ms')):>8} {f(m.get('ttfb_max_ms')):>8} "
              f"{ratio(m.get('ttfb_max_ms'), r.get('ttfb_max_ms')):>7} | {okf:>11} | "
              f"{f(rr.get('peak_rss_mib')):>8} | {f(mr.get('tree_peak_rss_mib')):>8} (from {f(mr.get('tree_start_rss_mib'))}), "
              f"{f(mr.get('helper_peak_rss_mib'))}")
        sizes, msizes = r.get("sizes") or [], m.get("sizes") or []
        if sizes and msizes and sizes != msizes:
            print(f"{'':>14}sizes differ: mwstore {' '.join(sizes)} | MediaWiki {' '.join(msizes)}")
    print()
    print("stored thumbnails and originals, requests/s over keep-alive (mwstore | MediaWiki), ratio mwstore/MediaWiki")
    print(f"{'source':>6} {'what':>12} | {'bytes':>19} | {'c1 req/s':>17} {'ratio':>7} | {'c4 req/s':>17} {'ratio':>7}")
    rcached = {(r["source"], r["what"]): r for r in rth.get("cached", [])}
    def rps(r, c):
        for x in (r or {}).get("runs") or []:
            if x["concurrency"] == c:
                return x["requests_per_s"]
        return None
    for r in th.get("cached", []):
        m = rcached.get((r["source"], r["what"]), {})
        print(f"{r['source']:>6} {r['what']:>12} | {r.get('bytes', '-')!s:>9} {m.get('bytes', '-')!s:>9} | "
              f"{f(rps(r, 1)):>8} {f(rps(m, 1)):>8} {ratio(rps(r, 1), rps(m, 1)):>7} | "
              f"{f(rps(r, 4)):>8} {f(rps(m, 4)):>8} {ratio(rps(r, 4), rps(m, 4)):>7}")
    # On each server, a stored thumbnail against the same bytes served as a file.
    def own(rows):
        by = {(r["source"], r["what"]): r for r in rows}
        out = []
        for r in rows:
            c = by.get((r["source"], f"{r['what']} file"))
            if r.get("width") is not None and c and not r.get("failed") and not c.get("failed"):
                out.append((r["source"], r["what"], [ratio(rps(r, k), rps(c, k)) for k in (1, 4)]))
        return out
    print()
    print("stored thumbnail req/s / the same bytes as a file's req/s, on each server (c1, c4)")
    for who, rows in (("mwstore", th.get("cached", [])), ("MediaWiki", rth.get("cached", []))):
        cells = [f"{s} {w} {a}/{b}" for s, w, (a, b) in own(rows)]
        print(f"  {who:>9}: {', '.join(cells) if cells else '-'}")
    errs = [("mwstore", e) for e in th.get("errors", [])] + [("MediaWiki", e) for e in rth.get("errors", [])]
    if errs:
        print()
        print("thumbnail errors")
        for who, e in errs:
            print(f"  {who}: {e['source']} {e['what']}: {e['error']}")
if ref is None:
    print()
    print("(the reference MediaWiki is absent: only mwstore's figures)")
EOF
echo
echo "figures: $OUT"
