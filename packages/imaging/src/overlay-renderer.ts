import { ThreadCalls } from '@gradcam/thread-calls';
import type { DecodedImage } from './decode-image.ts';
import type { ImageFormat } from './image-format.ts';
import type { FitSpec } from './fit-geometry.ts';
import { ImagingError, type ImagingErrorCode } from './imaging-error.ts';
import { checkOverlayRequest, type OverlayOptions, renderOverlay } from './render-overlay.ts';

export type RenderOverlay = typeof renderOverlay;

/**
 * Renders overlays (blend + JPEG encode) on the calling thread or on a pool of worker threads.
 * A GPU worker's main thread feeds the GPU; the overlays, 12% of its busy time on an H100 when
 * rendered inline, then run on spare cores beside it.
 */
export interface OverlayRenderer {
  readonly threads: number;
  readonly render: RenderOverlay;
  /** Waits for the overlays in flight, then stops the threads. */
  close(): Promise<void>;
}

export interface RenderRequest {
  readonly width: number;
  readonly height: number;
  readonly format: ImageFormat;
  readonly data: Uint8Array;
  readonly map: Float32Array;
  readonly mapWidth: number;
  readonly mapHeight: number;
  readonly spec: FitSpec;
  readonly options: OverlayOptions | undefined;
}

export type RenderReply =
  | { readonly jpeg: Uint8Array }
  | { readonly error: { readonly name: string; readonly message: string; readonly code?: string } };

function rebuildError({ name, message, code }: { name: string; message: string; code?: string }): Error {
  if (name === 'ImagingError' && code !== undefined) return new ImagingError(code as ImagingErrorCode, message);
  if (name === 'RangeError') return new RangeError(message);
  if (name === 'TypeError') return new TypeError(message);
  return new Error(message);
}

type RenderThread = ThreadCalls<RenderRequest, RenderReply>;

function startRenderThread(): RenderThread {
  const thread: RenderThread = new ThreadCalls({
    url: new URL('./overlay-thread-boot.mjs', import.meta.url),
    failure: (cause, code) => new Error(`overlay render thread failed (${cause}, code ${code})`),
  });
  // Started now, so the first batch does not wait for a thread to load.
  thread.start();
  return thread;
}

/** `threads` 0 renders on the calling thread. */
export function createOverlayRenderer(threads: number): OverlayRenderer {
  if (!Number.isInteger(threads) || threads < 0) throw new RangeError(`threads must be a non-negative integer, got ${threads}`);
  if (threads === 0) return { threads, render: renderOverlay, close: async () => {} };
  const pool = Array.from({ length: threads }, startRenderThread);
  let closed = false;
  const render: RenderOverlay = async (image: DecodedImage, map, mapWidth, mapHeight, spec, options) => {
    if (closed) throw new Error('the overlay renderer is closed');
    // Checked here, not only on the thread: a request the thread cannot read fails alone, with
    // its RangeError, instead of reaching a thread beside other callers' overlays.
    checkOverlayRequest(image, map, mapWidth, mapHeight, options);
    const thread = pool.reduce((least, t) => (t.inFlight < least.inFlight ? t : least));
    const { width, height, format, data } = image;
    // The image is copied to the thread (it stays usable here: one image has an overlay per map).
    const reply = await thread.call({ width, height, format, data, map, mapWidth, mapHeight, spec, options });
    if ('error' in reply) throw rebuildError(reply.error);
    return Buffer.from(reply.jpeg.buffer, reply.jpeg.byteOffset, reply.jpeg.byteLength);
  };
  const close = async () => {
    closed = true;
    await Promise.all(pool.map((t) => t.close()));
  };
  return { threads, render, close };
}
