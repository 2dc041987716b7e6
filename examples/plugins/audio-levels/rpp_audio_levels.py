"""Audio levels: RMS and peak of a 16-bit PCM WAV file, overall and per chunk.

Standard library only. Levels are relative to digital full scale (32768): a full-scale square
wave reads 0 dBFS RMS, a full-scale sine -3.01 dBFS RMS. Digital silence has no finite level in
dB, and JSON has no -Infinity, so a silent chunk's `dbfs` (and `peak_dbfs`) is `null`.
"""

import math
import os
import sys
import struct
from array import array

FULL_SCALE = 32768.0
SUPPORTED = "16-bit PCM WAV (any sample rate, any number of channels)"
WAVE_FORMAT_PCM, WAVE_FORMAT_FLOAT, WAVE_FORMAT_EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
CONVERT_HINT = "convert it first, e.g. `sox input.ext -b 16 output.wav` or `ffmpeg -i input.ext -c:a pcm_s16le output.wav`"


class AudioLevelsPlugin:
    def __init__(self):
        self.config = {"chunk_ms": 100, "channel": "mix"}
        self.progress = 0.0

    def initialize(self, config=None):
        self.config = _validated_config({**self.config, **(config or {})})

    def get_config_schema(self):
        return {
            "type": "object",
            "properties": {
                "chunk_ms": {
                    "type": "integer", "minimum": 1, "maximum": 60000, "default": 100,
                    "description": "Length of each streamed chunk in milliseconds.",
                },
                "channel": {
                    "oneOf": [{"type": "string", "enum": ["mix"]}, {"type": "integer", "minimum": 0}],
                    "default": "mix",
                    "description": 'Which channel to measure: "mix" (the average of all channels) or a channel index from 0.',
                },
            },
        }

    def get_current_config(self):
        return dict(self.config)

    def execute(self, file_path, **overrides):
        """The file's info, its overall RMS and peak, and the levels over time (`chunks`, a series)."""
        summary = None
        chunks = []
        for item in self.execute_stream(file_path, **overrides):
            if item["type"] == "info":
                info = item
            elif item["type"] == "chunk":
                chunks.append({key: value for key, value in item.items() if key != "type"})
            elif item["type"] == "done":
                summary = item
        if summary is None:  # cancelled before the end: the worker reports the cancellation
            return None
        result = {key: value for key, value in info.items() if key != "type"}
        result.update({key: summary[key] for key in ("rms", "dbfs", "peak", "peak_dbfs")})
        result["chunks"] = chunks
        return result

    def execute_stream(self, file_path, **overrides):
        """An `info` item, one `chunk` item per chunk_ms of audio, then a `done` summary."""
        config = _validated_config({**self.config, **overrides})
        self.progress = 0.0
        with _open_wav(file_path) as wav:
            channels, rate, frames = wav.channels, wav.rate, wav.frames
            channel = _channel_index(config["channel"], channels)
            yield {"type": "info", "file": str(file_path), "channels": channels, "sample_rate": rate,
                   "bits_per_sample": 16, "frames": frames, "duration_s": round(frames / rate, 6),
                   "channel": config["channel"]}
            frames_per_chunk = max(1, rate * config["chunk_ms"] // 1000)
            total = _Totals()
            chunks = 0
            while True:
                if self._cancelled():
                    return  # the worker reports the cancellation; a partial summary would mislead
                samples = _read_samples(wav, frames_per_chunk, channel)
                if not samples:
                    break
                start_frame = chunks * frames_per_chunk
                square_sum, peak = _square_sum_and_peak(samples)
                total.add(square_sum, peak, len(samples))
                yield {"type": "chunk", "index": chunks, "time": round(start_frame / rate, 6),
                       "end": round((start_frame + len(samples)) / rate, 6),
                       **_levels(square_sum, peak, len(samples))}
                chunks += 1
                self.progress = min(1.0, (start_frame + len(samples)) / max(frames, 1))
            yield {"type": "done", "chunks": chunks, "duration_s": round(frames / rate, 6),
                   **_levels(total.square_sum, total.peak, total.count)}

    def cleanup(self):
        pass

    def _cancelled(self):
        event = getattr(self, "cancel_event", None)
        return event is not None and event.is_set()


class _Totals:
    def __init__(self):
        self.square_sum, self.peak, self.count = 0.0, 0.0, 0

    def add(self, square_sum, peak, count):
        self.square_sum += square_sum
        self.peak = max(self.peak, peak)
        self.count += count


def _validated_config(config):
    chunk_ms = config.get("chunk_ms")
    if isinstance(chunk_ms, bool) or not isinstance(chunk_ms, int) or not 1 <= chunk_ms <= 60000:
        raise ValueError(f"chunk_ms must be a whole number of milliseconds from 1 to 60000, not {chunk_ms!r}.")
    channel = config.get("channel")
    if channel != "mix" and (isinstance(channel, bool) or not isinstance(channel, int) or channel < 0):
        raise ValueError(f'channel must be "mix" or a channel index (0, 1, ...), not {channel!r}.')
    return {"chunk_ms": chunk_ms, "channel": channel}


def _channel_index(channel, channels):
    if channel == "mix":
        return None
    if channel >= channels:
        raise ValueError(f"channel {channel} does not exist: the file has {channels} channel(s), numbered from 0. "
                         'Use "mix" or an index below ' f"{channels}.")
    return channel


class _WavFile:
    """A 16-bit PCM WAV file's format and its sample data, read by hand: the `wave` module rejects
    WAVE_FORMAT_EXTENSIBLE files before Python 3.12 and names other formats only by number."""

    def __init__(self, path):
        self.path = path
        self._file = open(path, "rb")
        try:
            self.channels, self.rate, self._data_left = _read_wav_header(self._file, path)
        except BaseException:
            self._file.close()
            raise
        self.frames = self._data_left // (2 * self.channels)

    def read_frames(self, count):
        """Up to `count` frames as 16-bit integers, channels interleaved."""
        frame_size = 2 * self.channels
        wanted = min(count * frame_size, self._data_left)
        data = self._file.read(wanted)
        # A file shorter than its header says ends at its last whole frame.
        self._data_left = self._data_left - wanted if len(data) == wanted else 0
        data = data[: len(data) - len(data) % frame_size]
        pcm = array("h")
        pcm.frombytes(data)
        if sys.byteorder == "big":  # WAV is little-endian
            pcm.byteswap()
        return pcm

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._file.close()


def _open_wav(file_path):
    path = os.fspath(file_path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder; audio levels needs a {SUPPORTED} file.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist.")
    return _WavFile(path)


def _read_wav_header(file, path):
    """(channels, sample rate, data size in bytes), leaving `file` at the start of the samples."""
    riff = file.read(12)
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        raise ValueError(f"{path} is not a WAV file. Audio levels reads {SUPPORTED}; {CONVERT_HINT}.")
    fmt = None
    while True:
        header = file.read(8)
        if len(header) < 8:
            raise ValueError(f"{path} is a WAV file without a {'data' if fmt else 'fmt '} chunk (truncated?).")
        chunk_id, size = header[:4], struct.unpack("<I", header[4:])[0]
        if chunk_id == b"fmt ":
            fmt = file.read(size + size % 2)
        elif chunk_id == b"data":
            if fmt is None:
                raise ValueError(f"{path} is a WAV file whose data comes before its format (fmt) chunk.")
            channels, rate = _check_format(fmt, path)
            return channels, rate, size
        else:
            file.seek(size + size % 2, os.SEEK_CUR)  # chunks are padded to an even size


def _check_format(fmt, path):
    if len(fmt) < 16:
        raise ValueError(f"{path} has a malformed WAV format (fmt) chunk.")
    tag, channels, rate, _byte_rate, _block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # the sub-format GUID starts with the real format tag
    if tag == WAVE_FORMAT_FLOAT:
        description = f"{bits}-bit floating-point WAV"
    elif tag != WAVE_FORMAT_PCM:
        description = f"WAV in a compressed format (format tag {tag:#06x})"
    elif bits != 16:
        description = f"{bits}-bit PCM WAV"
    else:
        if channels == 0 or rate == 0:
            raise ValueError(f"{path} claims {channels} channels at {rate} Hz; the file is damaged.")
        return channels, rate
    raise ValueError(f"{path} is a {description}; audio levels reads {SUPPORTED} only. "
                     f"Convert it with `sox {os.path.basename(path)} -b 16 -e signed-integer out.wav`.")


def _read_samples(wav, frame_count, channel):
    """The next frames as floats in -1..1: one channel, or the average of all of them."""
    pcm = wav.read_frames(frame_count)
    channels = wav.channels
    if channels == 1:
        return [sample / FULL_SCALE for sample in pcm]
    if channel is not None:
        return [sample / FULL_SCALE for sample in pcm[channel::channels]]
    return [sum(pcm[i:i + channels]) / (channels * FULL_SCALE) for i in range(0, len(pcm), channels)]


def _square_sum_and_peak(samples):
    return math.fsum(sample * sample for sample in samples), max(abs(sample) for sample in samples)


def _levels(square_sum, peak, count):
    rms = math.sqrt(square_sum / count) if count else 0.0
    return {"rms": round(rms, 6), "dbfs": _dbfs(rms), "peak": round(peak, 6), "peak_dbfs": _dbfs(peak)}


def _dbfs(level):
    """Decibels relative to full scale, or None for digital silence (JSON has no -Infinity)."""
    return round(20 * math.log10(level), 2) if level > 0 else None
