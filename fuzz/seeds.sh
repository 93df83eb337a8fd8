#!/usr/bin/env bash
# Makes seed corpora for the fuzz targets with ImageMagick and ffmpeg (Debian: imagemagick,
# ffmpeg): small real files of each format, so the fuzzers start from valid structure.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/raster corpus/props corpus/svg
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
for fmt in png gif jpg webp; do
  convert -size 16x12 gradient:red-blue "$t/grad.$fmt"
  convert -size 9x7 xc:white -fill black -draw "point 3,3" "$t/dot.$fmt"
  convert -size 20x20 plasma:fractal -seed 1 "$t/plasma.$fmt"
done
convert -size 16x16 xc:red -interlace PNG "$t/interlaced.png"
convert -size 16x16 xc:green -interlace JPEG "$t/progressive.jpg"
convert -delay 10 -size 8x8 xc:red xc:blue -loop 0 "$t/anim.gif"
convert -size 8x8 xc:red -define webp:lossless=true "$t/lossless.webp"
convert -size 8x8 xc:red -set comment "a < b" "$t/comment.png"
convert -size 8x8 xc:red "$t/tiny.tiff"
convert -size 8x8 xc:red "$t/tiny.pdf" 2>/dev/null || printf "%%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%%%EOF\n" > "$t/tiny.pdf"
ffmpeg -v error -f lavfi -i sine=duration=0.1 "$t/tone.wav" -y
ffmpeg -v error -f lavfi -i sine=duration=0.1 -c:a libvorbis "$t/tone.ogg" -y || true
ffmpeg -v error -f lavfi -i sine=duration=0.1 "$t/tone.mp3" -y || true
ffmpeg -v error -f lavfi -i sine=duration=0.1 "$t/tone.flac" -y || true
ffmpeg -v error -f lavfi -i sine=duration=0.1 -c:a libopus "$t/tone.webm" -y || true
# A one-note MIDI file.
printf 'MThd\0\0\0\6\0\0\0\1\0\140MTrk\0\0\0\14\0\220\74\100\140\200\74\100\0\377\57\0' > "$t/note.mid"
cp "$t"/*.png "$t"/*.gif "$t"/*.jpg "$t"/*.webp corpus/raster/
cp "$t"/* corpus/props/
printf '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5" style="fill:red"/><a href="https://example.org/"><text>x</text></a></svg>' > corpus/svg/basic.svg
printf '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "b">]><svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="#r"/><style>rect{fill:url(#g)}</style><animate attributeName="x" from="0" to="1"/></svg>' > corpus/svg/entities.svg
cp corpus/svg/*.svg corpus/props/
mkdir -p corpus/container corpus/render
for f in "$t"/*.png "$t"/*.jpg "$t"/*.gif "$t"/*.webp "$t"/*.tiff; do
  case "$f" in *.png) p=0;; *.jpg) p=1;; *.gif) p=2;; *.webp) p=3;; *.tiff) p=4;; esac
  { printf "\\x$(printf %02x $p)"; cat "$f"; } > "corpus/render/$(basename "$f")"
done
for f in corpus/svg/*.svg; do { printf "\\x05"; cat "$f"; } > "corpus/render/$(basename "$f")"; done
i=0
for f in "$t"/*.tiff "$t"/*.pdf "$t"/*.wav "$t"/*.mid "$t"/*.mp3 "$t"/*.ogg "$t"/*.flac "$t"/*.webm; do
  [ -f "$f" ] || continue
  case "$f" in *.tiff) p=0;; *.pdf) p=1;; *.wav) p=2;; *.mid) p=3;; *.mp3) p=4;; *.ogg) p=5;; *.flac) p=6;; *.webm) p=7;; esac
  { printf "\\x$(printf %02x $p)"; cat "$f"; } > corpus/container/seed$i; i=$((i+1))
done
# Description pages as Commons writes them, and the markup the renderer must keep harmless.
mkdir -p corpus/wikitext
cat > corpus/wikitext/information.txt <<'WIKI'
== {{int:filedesc}} ==
{{Information
|description={{en|1=A '''red''' [[Main Page|card]]}}{{de|1=Eine ''Karte''}}
|date=2024-05-01
|source={{own}}
|author=[[User:Alice|Alice]]
|permission=
|other versions=
}}

== {{int:license-header}} ==
{{self|cc-by-sa-4.0|GFDL|attribution=Alice}}
{{Personality rights}}

[[Category:Cards|Red]]
WIKI
cat > corpus/wikitext/markup.txt <<'WIKI'
A ''plain'' paragraph with [https://example.org/x?a=1&b=2 a link], http://bare.example/ and <span lang="fr" title="t">du texte</span>.
* one
*# nested
;term:definition
 preformatted
{| class="wikitable"
! a !! b
|-
| 1 || <b>2</b>
|}
<nowiki>[[not a link]]</nowiki> <!-- hidden --> &amp; &#60; __NOTOC__
<script>alert(1)</script> <b onclick="x">b</b> [javascript:alert(1) x]
WIKI
echo "seeds: $(ls corpus/raster | wc -l) raster, $(ls corpus/props | wc -l) props, $(ls corpus/svg | wc -l) svg, $(ls corpus/container | wc -l) container, $(ls corpus/wikitext | wc -l) wikitext"
