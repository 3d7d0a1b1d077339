// What a file is: decided from its bytes, never from the name or the type the client sent. The
// name and the declared type may only agree with the bytes (a disagreement is refused, since a
// name that says .html over PNG bytes is how a stored file gets rendered as something else).
import { open } from "node:fs/promises";

/** The types the pipeline recognises, the extensions each may carry, and whether it is re-encoded. */
export const FILE_TYPES: Readonly<Record<string, { extensions: readonly string[]; image: boolean }>> = {
  "image/jpeg": { extensions: ["jpg", "jpeg", "jpe", "jfif"], image: true },
  "image/png": { extensions: ["png"], image: true },
  "image/gif": { extensions: ["gif"], image: true },
  "image/webp": { extensions: ["webp"], image: true },
  "application/pdf": { extensions: ["pdf"], image: false },
  "text/plain": { extensions: ["txt", "text", "log", "md", "csv"], image: false },
  // Active content: never allowed by default; when allowed, stored as sent and only ever served as
  // an attachment under a sandboxing CSP.
  "image/svg+xml": { extensions: ["svg"], image: false },
  "text/html": { extensions: ["html", "htm"], image: false },
};

/** Declared types that mean the same as a canonical one. */
const ALIASES: Record<string, string> = {
  "image/jpg": "image/jpeg",
  "image/pjpeg": "image/jpeg",
  "text/htm": "text/html",
};
/** Declared types that claim nothing (browsers send these for unknown files). */
const NO_CLAIM = new Set(["", "application/octet-stream", "binary/octet-stream"]);

const HEAD_BYTES = 4096;
// The WHATWG MIME sniffing standard's "HTML" patterns: a browser that sniffs would render these.
const HTML_START = /^<(!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--)[\s>]/i;

/** The type the bytes of the file at `path` are; `application/octet-stream` when none is recognised. */
export async function sniff(path: string): Promise<string> {
  const head = await readHead(path);
  const markup = markupType(head);
  if (markup) return markup;
  // Loaded on the first upload, not at start.
  const { fileTypeFromFile } = await import("file-type");
  const detected = await fileTypeFromFile(path);
  if (detected) return detected.mime;
  return (await isPlainText(path)) ? "text/plain" : "application/octet-stream";
}

async function readHead(path: string): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** SVG or HTML at the start of the bytes (after a BOM and white space), as a browser would see it. */
function markupType(head: Buffer): string | undefined {
  const text = head
    .toString("utf8")
    .replace(/^\uFEFF/, "")
    .trimStart();
  if (!text.startsWith("<")) return undefined;
  if (/^<svg[\s>]/i.test(text) || (/^<\?xml/i.test(text) && /<svg[\s>]/i.test(text))) return "image/svg+xml";
  if (HTML_START.test(text)) return "text/html";
  // Any other XML can still carry script (XHTML namespaces): it is nothing we recognise.
  if (/^<\?xml/i.test(text)) return "application/xml";
  return undefined;
}

/** Whether the whole file is UTF-8 text without control characters other than tab, line breaks and form feed. */
async function isPlainText(path: string): Promise<boolean> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const handle = await open(path, "r");
  try {
    for await (const chunk of handle.createReadStream({ highWaterMark: 64 * 1024 })) {
      const text = decoder.decode(chunk as Buffer, { stream: true });
      if (/[\u0000-\u0008\u000B\u000E-\u001F\u007F]/.test(text)) return false;
    }
    decoder.decode();
    return true;
  } catch {
    // Not UTF-8: not text we serve as text/plain.
    return false;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Why the declared type or the name's extension disagrees with the sniffed type, or undefined when they agree. */
export function disagreement(sniffed: string, declared: string | undefined, name: string): string | undefined {
  const claim = (declared ?? "").split(";")[0]!.trim().toLowerCase();
  const canonical = ALIASES[claim] ?? claim;
  if (!NO_CLAIM.has(canonical) && canonical !== sniffed)
    return `declared as ${canonical.slice(0, 100)} but the bytes are ${sniffed}`;
  const ext = extension(name);
  const known = FILE_TYPES[sniffed];
  if (ext !== undefined && known && !known.extensions.includes(ext))
    return `named .${ext.slice(0, 20)} but the bytes are ${sniffed}`;
  return undefined;
}

/** The lower-case extension of a name, if it has one. */
function extension(name: string): string | undefined {
  const dot = name.lastIndexOf(".");
  return dot > 0 && dot < name.length - 1 ? name.slice(dot + 1).toLowerCase() : undefined;
}

const MAX_NAME = 200;

/**
 * The client's file name made safe to store and show: no directories, no control or format
 * characters (NUL, bidi overrides), no leading dots, at most 200 characters. It is never used as
 * a path — objects are stored under server-generated ids — but it is echoed in headers and UIs.
 */
export function cleanName(raw: string | undefined): string {
  const noControls = (raw ?? "").normalize("NFC").replace(/\p{C}/gu, "");
  const base = noControls.split(/[\\/]/).pop() ?? "";
  // U+2024 (one dot leader) and U+FF0E (fullwidth full stop) look like dots, and NFKC makes them dots.
  const trimmed = base.replace(/^[\s.\u2024\uFF0E]+/u, "").trim();
  const name = [...trimmed].slice(0, MAX_NAME).join("");
  return name || "file";
}

/** `Content-Disposition: attachment` with an ASCII fallback and the UTF-8 name (RFC 6266, RFC 8187). */
export function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%;]/g, "_");
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
