import { imageContentTypes, inputExtensions } from '@gradcam/contracts';

export type InputFormat = keyof typeof inputExtensions;

/**
 * Names the format of an uploaded image from its magic bytes. Ingest stays thin (the worker
 * decodes), but a body that is no image at all is refused here, while the client is listening.
 */
export function sniffImageFormat(bytes: Uint8Array): { format: InputFormat; extension: string; contentType: string } | undefined {
  const ascii = (start: number, end: number) => Buffer.from(bytes.subarray(start, end)).toString('latin1');
  let format: InputFormat | undefined;
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) format = 'jpeg';
  else if (ascii(0, 8) === '\x89PNG\r\n\x1a\n') format = 'png';
  else if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') format = 'webp';
  else if (ascii(0, 4) === 'GIF8') format = 'gif';
  else if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') format = 'tiff';
  else if (ascii(4, 8) === 'ftyp' && /^(avif|avis|mif1)/.test(ascii(8, 12))) format = 'avif';
  return format && { format, extension: inputExtensions[format], contentType: imageContentTypes[format] };
}
