"""Image info: dimensions, format and colour type of PNG, JPEG, GIF, BMP and WebP files.

Standard library only: each format's header is parsed by hand, so nothing is decoded and a large
image costs a few hundred bytes of reading. Given a folder, it reports every image file in it,
recognised by content (not by extension); other files are skipped.
"""

import os
import struct

PNG_COLOUR_TYPES = {0: "grayscale", 2: "rgb", 3: "palette", 4: "grayscale+alpha", 6: "rgba"}
JPEG_COMPONENTS = {1: "grayscale", 3: "ycbcr", 4: "cmyk"}
# Start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
JPEG_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
JPEG_PROGRESSIVE_MARKERS = {0xC2, 0xC6, 0xCA, 0xCE}
BMP_COMPRESSIONS = {0: "none", 1: "rle8", 2: "rle4", 3: "bitfields", 4: "jpeg", 5: "png", 6: "alphabitfields"}
HEADER_BYTES = 4096  # enough for every header read from memory; JPEG segments are read from the file
SUPPORTED = "PNG, JPEG, GIF, BMP and WebP"


class ImageInfoPlugin:
    def __init__(self):
        self.config = {"recursive": False}
        self.progress = 0.0

    def initialize(self, config=None):
        config = {**self.config, **(config or {})}
        if not isinstance(config["recursive"], bool):
            raise ValueError(f"recursive must be true or false, not {config['recursive']!r}.")
        self.config = config

    def get_config_schema(self):
        return {
            "type": "object",
            "properties": {
                "recursive": {
                    "type": "boolean", "default": False,
                    "description": "Given a folder, also look into its sub-folders.",
                },
            },
        }

    def get_current_config(self):
        return dict(self.config)

    def execute(self, path):
        """One image's info, or for a folder the list of its images' infos."""
        if os.path.isdir(path):
            return list(self.execute_stream(path))
        return image_info(path)

    def execute_stream(self, path):
        """One item per image file (a single item for a file)."""
        if not os.path.isdir(path):
            yield image_info(path)
            return
        files = _files_in(path, self.config["recursive"])
        for done, file_path in enumerate(files):
            if self._cancelled():
                return
            self.progress = done / len(files)
            info = _image_info_or_none(file_path)
            if info is not None:
                yield info
        self.progress = 1.0

    def cleanup(self):
        pass

    def _cancelled(self):
        event = getattr(self, "cancel_event", None)
        return event is not None and event.is_set()


def image_info(path):
    """The info of one image file; a clear ValueError for files that are not a supported image."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist.")
    with open(path, "rb") as file:
        head = file.read(HEADER_BYTES)
        image_format = _format_of(head)
        if image_format is None:
            raise ValueError(f"{path} is not an image this plugin knows: it reads {SUPPORTED} files "
                             "(recognised by their content, whatever the extension).")
        try:
            info = PARSERS[image_format](head, file)
        except (struct.error, IndexError):
            info = None
    if info is None:
        raise ValueError(f"{path} looks like a {image_format.upper()} file but its header is "
                         "damaged or cut short; open it in an image viewer to check it.")
    return {"file": path, **info, "file_size": os.path.getsize(path)}


def _image_info_or_none(path):
    try:
        return image_info(path)
    except ValueError as error:
        if "is not an image" in str(error):
            return None
        return {"file": path, "error": str(error)}
    except OSError as error:  # unreadable file in a folder: report it and go on with the others
        return {"file": path, "error": f"{path} could not be read: {error.strerror}."}


def _files_in(folder, recursive):
    if not recursive:
        names = sorted(os.listdir(folder))
        return [os.path.join(folder, name) for name in names if os.path.isfile(os.path.join(folder, name))]
    found = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        found.extend(os.path.join(root, name) for name in sorted(names))
    return found


def _format_of(head):
    """The format named by the file's first bytes (its magic number), or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _parse_png(head, _file):
    if head[12:16] != b"IHDR":
        return None
    width, height, bit_depth, colour_type, _compression, _filter, interlace = struct.unpack(">IIBBBBB", head[16:29])
    return {"format": "png", "width": width, "height": height, "mode": PNG_COLOUR_TYPES.get(colour_type, "unknown"),
            "bit_depth": bit_depth, "interlaced": interlace == 1, "animated": b"acTL" in head}


def _parse_jpeg(_head, file):
    """Walks the segments from the file itself: an EXIF thumbnail can push the frame header far."""
    file.seek(2)
    while True:
        marker = _next_jpeg_marker(file)
        if marker is None or marker == 0xDA:  # end of file, or image data before any frame header
            return None
        length = struct.unpack(">H", file.read(2))[0]
        if marker in JPEG_SOF_MARKERS:
            precision, height, width, components = struct.unpack(">BHHB", file.read(6))
            return {"format": "jpeg", "width": width, "height": height,
                    "mode": JPEG_COMPONENTS.get(components, f"{components} components"),
                    "bit_depth": precision, "progressive": marker in JPEG_PROGRESSIVE_MARKERS}
        file.seek(length - 2, os.SEEK_CUR)


def _next_jpeg_marker(file):
    byte = file.read(1)
    if byte != b"\xff":
        return None
    while byte == b"\xff":  # markers may be preceded by fill bytes
        byte = file.read(1)
    return byte[0] if byte else None


def _parse_gif(head, _file):
    width, height, packed = struct.unpack("<HHB", head[6:11])
    bits_per_colour = ((packed >> 4) & 0x07) + 1
    return {"format": "gif", "width": width, "height": height, "mode": "palette",
            "bit_depth": bits_per_colour, "version": head[3:6].decode("ascii"),
            "animated": b"NETSCAPE2.0" in head}


def _parse_bmp(head, _file):
    header_size = struct.unpack("<I", head[14:18])[0]
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        width, height, _planes, bits = struct.unpack("<HHHH", head[18:26])
        compression = 0
    else:
        width, height, _planes, bits, compression = struct.unpack("<iiHHI", head[18:34])
    mode = "palette" if bits <= 8 else ("rgba" if bits == 32 else "rgb")
    return {"format": "bmp", "width": width, "height": abs(height), "mode": mode, "bit_depth": bits,
            "compression": BMP_COMPRESSIONS.get(compression, str(compression)), "top_down": height < 0}


def _parse_webp(head, _file):
    chunk = head[12:16]
    if chunk == b"VP8 ":  # lossy: the frame header after the 3-byte tag and start code 9d 01 2a
        if head[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", head[26:30])
        return _webp(width & 0x3FFF, height & 0x3FFF, "yuv", lossless=False, alpha=False, animated=False)
    if chunk == b"VP8L":  # lossless: 14-bit width-1 and height-1 after the signature byte 0x2f
        if head[20] != 0x2F:
            return None
        bits = struct.unpack("<I", head[21:25])[0]
        alpha = bool((bits >> 28) & 1)
        return _webp((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, "rgba" if alpha else "rgb",
                     lossless=True, alpha=alpha, animated=False)
    if chunk == b"VP8X":  # extended: flags, then 24-bit canvas width-1 and height-1
        flags = head[20]
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        alpha = bool(flags & 0x10)
        return _webp(width, height, "rgba" if alpha else "rgb", lossless=b"VP8L" in head,
                     alpha=alpha, animated=bool(flags & 0x02))
    return None


def _webp(width, height, mode, lossless, alpha, animated):
    return {"format": "webp", "width": width, "height": height, "mode": mode, "bit_depth": 8,
            "lossless": lossless, "alpha": alpha, "animated": animated}


PARSERS = {"png": _parse_png, "jpeg": _parse_jpeg, "gif": _parse_gif, "bmp": _parse_bmp, "webp": _parse_webp}
