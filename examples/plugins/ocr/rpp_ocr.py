"""OCR: the text of an image, with per-word boxes and confidences, from the `tesseract` program.

Wraps the tesseract command line (Debian: tesseract-ocr and tesseract-ocr-<lang>) and parses its
TSV output. The stream yields each recognised line as soon as its rows have been read from
tesseract's stdout. Tesseract's process is killed when the call is cancelled and in cleanup().
"""

import os
import shutil
import subprocess
import threading

INSTALL_HINT = ("Install it: `sudo apt-get install tesseract-ocr tesseract-ocr-eng` (Debian/Ubuntu), "
                "`brew install tesseract` (macOS), or set `tesseract_path` in the plugin's configuration.")
# Leptonica (tesseract's image reader) reads these; anything else tesseract would treat as a list of file names.
IMAGE_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*",
                    b"P1", b"P2", b"P3", b"P4", b"P5", b"P6")
SUPPORTED = "PNG, JPEG, GIF, BMP, TIFF, WebP and PNM images"
WORD_LEVEL, LINE_LEVEL = 5, 4
CANCEL_POLL_S = 0.05


class OcrPlugin:
    def __init__(self):
        self.config = {"language": "eng", "psm": 3, "tesseract_path": "tesseract"}
        self.progress = 0.0
        self._running = set()  # tesseract processes of calls in progress, killed by cleanup()
        self._running_lock = threading.Lock()

    def initialize(self, config=None):
        self.config = _validated_config({**self.config, **(config or {})})

    def get_config_schema(self):
        return {
            "type": "object",
            "properties": {
                "language": {
                    "type": "string", "default": "eng", "pattern": "^[A-Za-z_]+(\\+[A-Za-z_]+)*$",
                    "description": "Tesseract language code(s), e.g. \"eng\", \"deu\" or \"eng+fra\". "
                                   "Each needs its package, e.g. tesseract-ocr-deu.",
                },
                "psm": {
                    "type": "integer", "minimum": 0, "maximum": 13, "default": 3,
                    "description": "Page segmentation mode: 3 = automatic page layout, 6 = one block of text, "
                                   "7 = a single line, 11 = sparse text. See `tesseract --help-psm`.",
                },
                "tesseract_path": {
                    "type": "string", "default": "tesseract",
                    "description": "The tesseract program: a name looked up on PATH or an absolute path.",
                },
            },
        }

    def get_current_config(self):
        return dict(self.config)

    def execute(self, image_path, **overrides):
        """All the text, its lines and every word with its box and confidence."""
        lines = list(self.execute_stream(image_path, **overrides))
        words = [dict(word, line=line["index"]) for line in lines for word in line["words"]]
        return {"text": "\n".join(line["text"] for line in lines), "lines": len(lines), "words": words}

    def execute_stream(self, image_path, **overrides):
        """One item per recognised line, in reading order."""
        config = _validated_config({**self.config, **overrides})
        _check_image(image_path)
        self.progress = 0.0
        process = self._start_tesseract(config, image_path)
        try:
            yield from _lines_from_tsv(process.stdout)
            stderr = process.stderr.read()
            if process.wait() != 0 and not self._cancelled():
                raise _tesseract_error(process.returncode, stderr, config["language"])
            self.progress = 1.0
        finally:  # also on cancellation: the worker closes this generator
            self._stop(process)

    def cleanup(self):
        with self._running_lock:
            running = list(self._running)
        for process in running:
            self._stop(process)

    def _start_tesseract(self, config, image_path):
        program = shutil.which(config["tesseract_path"])
        if program is None:
            raise FileNotFoundError(f"The tesseract program ({config['tesseract_path']}) was not found. {INSTALL_HINT}")
        command = [program, os.fspath(image_path), "stdout", "-l", config["language"],
                   "--psm", str(config["psm"]), "tsv"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, text=True, encoding="utf-8")
        with self._running_lock:
            self._running.add(process)
        threading.Thread(target=self._kill_on_cancel, args=(process,), daemon=True).start()
        return process

    def _kill_on_cancel(self, process):
        """Tesseract prints nothing until the whole page is read, so the read loop cannot check the flag."""
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
    language, psm = config.get("language"), config.get("psm")
    if not isinstance(language, str) or not language or not all(part.replace("_", "").isalpha() for part in language.split("+")):
        raise ValueError(f'language must be tesseract language codes such as "eng" or "eng+deu", not {language!r}.')
    if isinstance(psm, bool) or not isinstance(psm, int) or not 0 <= psm <= 13:
        raise ValueError(f"psm must be a page segmentation mode from 0 to 13 (see `tesseract --help-psm`), not {psm!r}.")
    if not isinstance(config.get("tesseract_path"), str) or not config["tesseract_path"]:
        raise ValueError("tesseract_path must be the tesseract program's name or path.")
    return {"language": language, "psm": psm, "tesseract_path": config["tesseract_path"]}


def _check_image(image_path):
    path = os.fspath(image_path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder; OCR needs one image file ({SUPPORTED}).")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist.")
    with open(path, "rb") as file:
        head = file.read(12)
    is_webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if not (is_webp or head.startswith(IMAGE_SIGNATURES)):
        raise ValueError(f"{path} is not an image OCR can read; it reads {SUPPORTED}. "
                         "For a PDF, render its pages to PNG first, e.g. `pdftoppm -r 300 -png in.pdf page`.")


def _lines_from_tsv(stdout):
    """Groups tesseract's TSV rows into lines, yielding each line when the next one starts."""
    header = stdout.readline().rstrip("\n").split("\t")
    line, count = None, 0
    for row in stdout:
        fields = dict(zip(header, row.rstrip("\n").split("\t")))
        level = int(fields["level"])
        if level <= LINE_LEVEL:
            if line is not None and line["words"]:
                yield _finished(line, count)
                count += 1
            line = None
            if level == LINE_LEVEL:
                line = {"box": _box(fields), "words": []}
        elif level == WORD_LEVEL and line is not None and fields.get("text", "").strip():
            line["words"].append({"text": fields["text"], "confidence": round(float(fields["conf"]), 2),
                                  "box": _box(fields)})
    if line is not None and line["words"]:
        yield _finished(line, count)


def _finished(line, index):
    words = line["words"]
    return {"type": "line", "index": index, "text": " ".join(word["text"] for word in words),
            "confidence": round(sum(word["confidence"] for word in words) / len(words), 2),
            "box": line["box"], "words": words}


def _box(fields):
    return {key: int(fields[key]) for key in ("left", "top", "width", "height")}


def _tesseract_error(returncode, stderr, language):
    if "Failed loading language" in stderr:
        packages = " ".join(f"tesseract-ocr-{code.lower()}" for code in language.split("+"))
        return ValueError(f"Tesseract has no data for the language {language!r}. "
                          f"Install it (`sudo apt-get install {packages}`) or choose another language; "
                          "`tesseract --list-langs` shows the installed ones.")
    tail = " ".join(stderr.strip().splitlines()[-3:])
    return RuntimeError(f"tesseract failed (exit code {returncode}): {tail or 'no message'}")
