"""Speech commands: spoken commands in a 16 kHz WAV, recognised by pocketsphinx with a JSGF grammar.

Wraps `pocketsphinx_continuous` (Debian: pocketsphinx and pocketsphinx-en-us, 0.8+5prealpha). Its
old acoustic model is too poor for open-vocabulary speech, so it only listens for the phrases of a
small grammar (commands.jsgf beside this file, or your own). Each utterance it recognises becomes
one item with its time span; pauses separate utterances.
"""

import os
import shutil
import struct
import subprocess
import threading

DEFAULT_GRAMMAR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "commands.jsgf")
INSTALL_HINT = ("Install it: `sudo apt-get install pocketsphinx pocketsphinx-en-us` (Debian/Ubuntu), "
                "or set `pocketsphinx_path` in the plugin's configuration.")
CONVERT_HINT = "convert it with `sox input.wav -r 16000 -c 1 -b 16 output.wav`"
CANCEL_POLL_S = 0.05


class SpeechCommandsPlugin:
    def __init__(self):
        self.config = {"grammar": DEFAULT_GRAMMAR, "pocketsphinx_path": "pocketsphinx_continuous"}
        self.progress = 0.0
        self._running = set()  # pocketsphinx processes of calls in progress, killed by cleanup()
        self._running_lock = threading.Lock()

    def initialize(self, config=None):
        self.config = _validated_config({**self.config, **(config or {})})

    def get_config_schema(self):
        return {
            "type": "object",
            "properties": {
                "grammar": {
                    "type": "string", "default": DEFAULT_GRAMMAR,
                    "description": "JSGF grammar file with the phrases to listen for.",
                },
                "pocketsphinx_path": {
                    "type": "string", "default": "pocketsphinx_continuous",
                    "description": "The pocketsphinx_continuous program: a name on PATH or an absolute path.",
                },
            },
        }

    def get_current_config(self):
        return dict(self.config)

    def execute(self, wav_path, **overrides):
        """Every recognised command with its time span."""
        commands = list(self.execute_stream(wav_path, **overrides))
        return {"file": os.fspath(wav_path), "commands": commands}

    def execute_stream(self, wav_path, **overrides):
        """One item per recognised utterance, as pocketsphinx reports it."""
        config = _validated_config({**self.config, **overrides})
        _check_wav(os.fspath(wav_path))
        self.progress = 0.0
        process = self._start_pocketsphinx(config, wav_path)
        try:
            yield from _utterances(process.stdout)
            stderr = process.stderr.read()
            if process.wait() != 0 and not self._cancelled():
                tail = " ".join(stderr.strip().splitlines()[-3:])
                raise RuntimeError(f"pocketsphinx_continuous failed (exit code {process.returncode}): {tail or 'no message'}")
            self.progress = 1.0
        finally:  # also on cancellation: the worker closes this generator
            self._stop(process)

    def cleanup(self):
        with self._running_lock:
            running = list(self._running)
        for process in running:
            self._stop(process)

    def _start_pocketsphinx(self, config, wav_path):
        program = shutil.which(config["pocketsphinx_path"])
        if program is None:
            raise FileNotFoundError(f"The pocketsphinx program ({config['pocketsphinx_path']}) was not found. {INSTALL_HINT}")
        # -logfn /dev/null: its verbose log would bury the plugin's own lines in the log channel.
        command = [program, "-infile", os.fspath(wav_path), "-jsgf", config["grammar"], "-time", "yes",
                   "-logfn", os.devnull]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, text=True, encoding="utf-8")
        with self._running_lock:
            self._running.add(process)
        threading.Thread(target=self._kill_on_cancel, args=(process,), daemon=True).start()
        return process

    def _kill_on_cancel(self, process):
        """pocketsphinx's stdout is block-buffered in a pipe, so the read loop may wait long for a line."""
        event = getattr(self, "cancel_event", None)
        if event is None:
            return
        while process.poll() is None:
            if event.wait(CANCEL_POLL_S):
                process.kill()
                return

    def _stop(self, process):
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            stream.close()
        with self._running_lock:
            self._running.discard(process)

    def _cancelled(self):
        event = getattr(self, "cancel_event", None)
        return event is not None and event.is_set()


def _validated_config(config):
    grammar, program = config.get("grammar"), config.get("pocketsphinx_path")
    if not isinstance(grammar, str) or not os.path.isfile(grammar):
        raise ValueError(f"grammar must be the path of a JSGF grammar file; {grammar!r} is not a file.")
    if not isinstance(program, str) or not program:
        raise ValueError("pocketsphinx_path must be the pocketsphinx_continuous program's name or path.")
    return {"grammar": grammar, "pocketsphinx_path": program}


def _check_wav(path):
    """pocketsphinx's model needs 16 kHz mono 16-bit PCM; on anything else it silently recognises nothing."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder; speech commands needs one 16 kHz mono 16-bit WAV file.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist.")
    with open(path, "rb") as file:
        head = file.read(36)
    if len(head) < 36 or head[:4] != b"RIFF" or head[8:12] != b"WAVE" or head[12:16] != b"fmt ":
        raise ValueError(f"{path} is not a WAV file. Speech commands reads 16 kHz mono 16-bit WAV; {CONVERT_HINT}.")
    tag, channels, rate = struct.unpack("<HHI", head[20:28])
    bits = struct.unpack("<H", head[34:36])[0]
    if (tag, channels, rate, bits) != (1, 1, 16000, 16):
        raise ValueError(f"{path} is a {bits}-bit WAV with {channels} channel(s) at {rate} Hz; speech commands "
                         f"needs 16 kHz mono 16-bit PCM, so {CONVERT_HINT}.")


def _utterances(stdout):
    """Parses `-time yes` output: a line with the utterance's text, then one `word start end prob` line per word."""
    utterance, count = None, 0
    for raw in stdout:
        line = raw.strip()
        word = _word_line(line)
        if word is None:  # a new utterance's text
            if utterance is not None and utterance["words"]:
                yield _finished(utterance, count)
                count += 1
            utterance = {"words": []} if line else None
        elif utterance is not None and not _is_filler(word["word"]):
            utterance["words"].append(word)
    if utterance is not None and utterance["words"]:
        yield _finished(utterance, count)


def _word_line(line):
    parts = line.split()
    if len(parts) != 4:
        return None
    try:
        start, end = float(parts[1]), float(parts[2])
    except ValueError:
        return None
    word = parts[0].split("(")[0]  # "next(2)" is the dictionary's second pronunciation of "next"
    return {"word": word, "start": start, "end": end}


def _is_filler(word):
    return word.startswith(("<", "[", "++"))


def _finished(utterance, index):
    words = utterance["words"]
    return {"type": "command", "index": index, "text": " ".join(word["word"] for word in words),
            "start": words[0]["start"], "end": words[-1]["end"], "words": words}
