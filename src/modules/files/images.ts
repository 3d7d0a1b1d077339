// Images are decoded and encoded again: what is stored is pixels sharp wrote, never the client's
// bytes. That drops metadata (EXIF GPS, camera serials, comments), anything appended or hidden in
// the container (a GIF that is also a script, a ZIP after a PNG), and applies the EXIF orientation
// so dropping the tag does not turn the picture. The pixel limit is checked from the header before
// anything is decoded, so a small file claiming a huge canvas (a decompression bomb) costs nothing.
import type sharpModule from "sharp";
import { AppError } from "../../core/errors.js";

/** Re-encodes the image at `input` (of type `type`) into `output`, in the same format. */
export async function reencode(input: string, output: string, type: string, maxPixels: number): Promise<void> {
  // Every frame counts: an animated GIF of many frames is as costly as one frame that tall.
  const animated = type === "image/gif" || type === "image/webp";
  const options = { limitInputPixels: maxPixels, failOn: "error" as const, animated };
  // Loaded on the first upload, not at start (libvips is large).
  const sharp: typeof sharpModule = (await import("sharp")).default;
  let pixels: number;
  try {
    const meta = await sharp(input, options).metadata();
    pixels = (meta.width ?? 0) * (meta.pageHeight ?? meta.height ?? 0) * (meta.pages ?? 1);
  } catch (error) {
    throw refusal(error);
  }
  if (pixels > maxPixels) throw new AppError("payload_too_large", `image is larger than ${maxPixels} pixels`);
  try {
    let pipeline = sharp(input, options).rotate();
    if (type === "image/jpeg") pipeline = pipeline.jpeg({ quality: 90 });
    else if (type === "image/png") pipeline = pipeline.png();
    else if (type === "image/gif") pipeline = pipeline.gif();
    else pipeline = pipeline.webp({ quality: 90 });
    // No withMetadata()/keepMetadata(): sharp writes none of the input's metadata by default.
    await pipeline.toFile(output);
  } catch (error) {
    throw refusal(error);
  }
}

function refusal(error: unknown): AppError {
  const message = error instanceof Error ? error.message : "";
  if (/pixel limit/i.test(message)) return new AppError("payload_too_large", "image has too many pixels");
  return new AppError("unsupported_media_type", "image could not be decoded");
}
