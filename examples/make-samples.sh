#!/bin/sh
# Regenerates the sample files in examples/workspace/ that the example plugins run on.
# The generated files are committed, so nobody needs these tools just to try the plugins.
# Needs (Debian/Ubuntu): sudo apt-get install sox espeak-ng imagemagick webp
set -eu

cd "$(dirname "$0")/workspace"
for tool in sox espeak-ng convert cwebp; do
  command -v "$tool" >/dev/null || { echo "make-samples.sh: $tool is missing; sudo apt-get install sox espeak-ng imagemagick webp" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Audio levels: 0.5 s of silence, then 1 s of a 440 Hz tone at half of full scale (-6 dBFS peak), 16-bit mono.
sox -D -n -r 8000 -c 1 -b 16 "$work/silence.wav" trim 0 0.5
sox -D -n -r 8000 -c 1 -b 16 "$work/tone.wav" synth 1 sine 440 vol 0.5
sox -D "$work/silence.wav" "$work/tone.wav" tone.wav

# Speech commands: three commands from the plugin's grammar, 16 kHz 16-bit mono, with pauses between them.
sox -D -n -r 16000 -c 1 -b 16 "$work/pause.wav" trim 0 0.6
for phrase in "open file" "next slide" "stop recording"; do
  espeak-ng -v en-us -s 140 -w "$work/raw.wav" "$phrase"
  sox -D "$work/raw.wav" -r 16000 -c 1 -b 16 "$work/$phrase.wav"
done
sox -D "$work/pause.wav" "$work/open file.wav" "$work/pause.wav" "$work/next slide.wav" "$work/pause.wav" \
  "$work/stop recording.wav" "$work/pause.wav" speech-commands.wav

# OCR: black text on white, large enough for tesseract to read every word.
# -strip and the excluded chunks keep the files free of dates, so regenerating them changes nothing.
png_quiet="-strip -define png:exclude-chunks=date,time"
# shellcheck disable=SC2086 # $png_quiet is several options on purpose
convert -background white -fill black -font DejaVu-Sans -pointsize 40 \
  label:"Remote Plugin Proxy\nreads this text" -bordercolor white -border 20 \
  -colorspace Gray -depth 8 $png_quiet text.png

# Image info: the same small picture in several formats and colour types.
# shellcheck disable=SC2086
convert -size 64x48 gradient:navy-gold -depth 8 $png_quiet "$work/gradient.png"
convert "$work/gradient.png" -strip -quality 80 photo.jpg
convert "$work/gradient.png" -colors 16 icon.gif
convert "$work/gradient.png" -type TrueColor BMP3:logo.bmp
cwebp -quiet -q 75 "$work/gradient.png" -o picture.webp
# shellcheck disable=SC2086
convert "$work/gradient.png" -alpha set -channel A -evaluate set 50% +channel $png_quiet PNG32:overlay.png

ls -l
