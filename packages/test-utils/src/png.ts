// Screenshots for tests of HTML pages: headless Chromium, and the PNGs it writes decoded (no image library).
import { execFile } from 'node:child_process';
import { inflateSync } from 'node:zlib';

/** A decoded PNG: 8-bit RGBA pixels, row by row. */
export interface DecodedPng {
  width: number;
  height: number;
  /** width * height * 4 bytes. */
  rgba: Uint8Array;
}

/** Decodes a non-interlaced 8-bit RGB or RGBA PNG (what Chromium's screenshots are): IHDR, IDAT, inflate, unfilter. */
export function decodePng(file: Uint8Array): DecodedPng {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!signature.every((byte, i) => file[i] === byte)) throw new Error('not a PNG');
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  while (offset < file.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...file.subarray(offset + 4, offset + 8));
    const data = file.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = view.getUint32(offset + 8);
      height = view.getUint32(offset + 12);
      const bitDepth = data[8];
      const colorType = data[9];
      const interlace = data[12];
      if (bitDepth !== 8 || (colorType !== 2 && colorType !== 6) || interlace !== 0) {
        throw new Error(`unsupported PNG: bit depth ${bitDepth}, colour type ${colorType}, interlace ${interlace}`);
      }
      channels = colorType === 6 ? 4 : 3;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y += 1) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const prior = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i += 1) {
      const a = i >= channels ? out[i - channels]! : 0;
      const b = prior[i]!;
      const c = i >= channels ? prior[i - channels]! : 0;
      let predictor: number;
      switch (filter) {
        case 0:
          predictor = 0;
          break;
        case 1:
          predictor = a;
          break;
        case 2:
          predictor = b;
          break;
        case 3:
          predictor = (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error(`bad PNG filter ${filter} on row ${y}`);
      }
      out[i] = (line[i]! + predictor) & 0xff;
    }
  }
  if (channels === 4) return { width, height, rgba: pixels };
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p += 1) {
    rgba[p * 4] = pixels[p * 3]!;
    rgba[p * 4 + 1] = pixels[p * 3 + 1]!;
    rgba[p * 4 + 2] = pixels[p * 3 + 2]!;
    rgba[p * 4 + 3] = 255;
  }
  return { width, height, rgba };
}

/** Pixels within `tolerance` (per channel) of `#rrggbb`, with their bounding box. */
export function findColor(
  png: DecodedPng,
  hex: string,
  tolerance = 6,
): { count: number; minX: number; maxX: number; minY: number; maxY: number } {
  const r = Number.parseInt(hex.slice(1, 3), 16);
  const g = Number.parseInt(hex.slice(3, 5), 16);
  const b = Number.parseInt(hex.slice(5, 7), 16);
  const box = { count: 0, minX: Number.POSITIVE_INFINITY, maxX: -1, minY: Number.POSITIVE_INFINITY, maxY: -1 };
  for (let y = 0; y < png.height; y += 1) {
    for (let x = 0; x < png.width; x += 1) {
      const i = (y * png.width + x) * 4;
      if (
        Math.abs(png.rgba[i]! - r) <= tolerance &&
        Math.abs(png.rgba[i + 1]! - g) <= tolerance &&
        Math.abs(png.rgba[i + 2]! - b) <= tolerance
      ) {
        box.count += 1;
        box.minX = Math.min(box.minX, x);
        box.maxX = Math.max(box.maxX, x);
        box.minY = Math.min(box.minY, y);
        box.maxY = Math.max(box.maxY, y);
      }
    }
  }
  return box;
}

/** The flags the report test runs Chromium with (after `--user-data-dir` and `--screenshot`). */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-sync',
  '--no-first-run',
  '--disable-features=MediaRouter,OptimizationHints',
  '--hide-scrollbars',
  '--force-color-profile=srgb',
] as const;

/** Screenshots `file://<htmlPath>` with headless Chromium into `pngPath`; resolves with how long it took. */
export function screenshot(
  chromium: string,
  htmlPath: string,
  pngPath: string,
  profileDir: string,
  timeoutMs = 60_000,
): Promise<number> {
  const started = Date.now();
  const args = [
    ...CHROMIUM_FLAGS,
    `--user-data-dir=${profileDir}`,
    `--screenshot=${pngPath}`,
    '--window-size=1200,900',
    `file://${htmlPath}`,
  ];
  return new Promise((resolve, reject) => {
    execFile(chromium, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`chromium failed: ${error.message}\n${stderr.slice(-2000)}`));
      else resolve(Date.now() - started);
    });
  });
}
