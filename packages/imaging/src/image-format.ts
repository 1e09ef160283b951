/** Container formats the pipeline accepts; everything else sharp can read (SVG, PDF, …) is refused. */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif' | 'heif';
