// Files the results tests generate: WAV audio and PNG images written byte by byte (no tools needed),
// so that each renderer is tried on media nobody prepared by hand.
import fs from 'node:fs';
import zlib from 'node:zlib';

/** A 16-bit mono PCM WAV: a 440 Hz tone whose loudness follows `envelope(t)` (0..1) over `seconds`. */
export function writeToneWav(file: string, seconds: number, envelope: (t: number) => number = () => 0.5, rate = 8000): void {
  const frames = Math.round(seconds * rate);
  const data = Buffer.alloc(frames * 2);
  for (let i = 0; i < frames; i++) {
    const t = i / rate;
    const sample = Math.max(-1, Math.min(1, envelope(t) * Math.sin(2 * Math.PI * 440 * t)));
    data.writeInt16LE(Math.round(sample * 32767), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, data]));
}

export interface Rect { x: number; y: number; width: number; height: number; rgb: [number, number, number] }

/** An RGB PNG, white, with filled rectangles. */
export function writePng(file: string, width: number, height: number, rects: readonly Rect[] = []): void {
  const rows = Buffer.alloc((width * 3 + 1) * height, 255);
  for (let y = 0; y < height; y++) rows[y * (width * 3 + 1)] = 0; // filter: none
  for (const rect of rects) {
    for (let y = rect.y; y < Math.min(height, rect.y + rect.height); y++) {
      for (let x = rect.x; x < Math.min(width, rect.x + rect.width); x++) {
        const at = y * (width * 3 + 1) + 1 + x * 3;
        rows[at] = rect.rgb[0];
        rows[at + 1] = rect.rgb[1];
        rows[at + 2] = rect.rgb[2];
      }
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0)),
  ]);
  fs.writeFileSync(file, png);
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
