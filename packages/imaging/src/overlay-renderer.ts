import { Worker } from 'node:worker_threads';
import type { DecodedImage, ImageFormat } from './decode-image.ts';
import type { FitSpec } from './fit-geometry.ts';
import { ImagingError, type ImagingErrorCode } from './imaging-error.ts';
import { type OverlayOptions, renderOverlay } from './render-overlay.ts';

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
  readonly id: number;
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
  | { readonly id: number; readonly jpeg: Uint8Array }
  | { readonly id: number; readonly error: { readonly name: string; readonly message: string; readonly code?: string } };

interface Pending {
  readonly resolve: (jpeg: Buffer) => void;
  readonly reject: (error: Error) => void;
}

function rebuildError({ name, message, code }: { name: string; message: string; code?: string }): Error {
  if (name === 'ImagingError' && code !== undefined) return new ImagingError(code as ImagingErrorCode, message);
  if (name === 'RangeError') return new RangeError(message);
  return new Error(message);
}

class RenderThread {
  readonly pending = new Map<number, Pending>();
  private closing = false;
  private worker: Worker | undefined;

  constructor() {
    // Started now, so the first batch does not wait for a thread to load.
    this.worker = this.start();
  }

  private start(): Worker {
    const worker = new Worker(new URL('./overlay-thread-boot.mjs', import.meta.url));
    worker.on('message', (reply: RenderReply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if ('jpeg' in reply) waiting?.resolve(Buffer.from(reply.jpeg.buffer, reply.jpeg.byteOffset, reply.jpeg.byteLength));
      else waiting?.reject(rebuildError(reply.error));
    });
    // A thread that dies takes only its own overlays with it. The next render starts a new one
    // (not the exit: a thread that cannot start at all would otherwise respawn in a tight loop).
    let cause = 'it exited';
    worker.once('error', (error) => (cause = error.message));
    worker.once('exit', (code) => {
      this.worker = undefined;
      if (this.closing) return;
      for (const waiting of this.pending.values()) waiting.reject(new Error(`overlay render thread failed (${cause}, code ${code})`));
      this.pending.clear();
    });
    return worker;
  }

  render(request: RenderRequest): Promise<Buffer> {
    if (this.closing) return Promise.reject(new Error('the overlay renderer is closed'));
    return new Promise((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject });
      (this.worker ??= this.start()).postMessage(request);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker?.terminate();
  }
}

/** `threads` 0 renders on the calling thread. */
export function createOverlayRenderer(threads: number): OverlayRenderer {
  if (!Number.isInteger(threads) || threads < 0) throw new RangeError(`threads must be a non-negative integer, got ${threads}`);
  if (threads === 0) return { threads, render: renderOverlay, close: async () => {} };
  const pool = Array.from({ length: threads }, () => new RenderThread());
  const inFlight = new Set<Promise<unknown>>();
  let nextId = 0;
  const render: RenderOverlay = (image: DecodedImage, map, mapWidth, mapHeight, spec, options) => {
    const thread = pool.reduce((least, t) => (t.pending.size < least.pending.size ? t : least));
    const { width, height, format, data } = image;
    // The image is copied to the thread (it stays usable here: one image has an overlay per map).
    const job = thread.render({ id: nextId++, width, height, format, data, map, mapWidth, mapHeight, spec, options });
    inFlight.add(job);
    void job.catch(() => {}).finally(() => inFlight.delete(job));
    return job;
  };
  return {
    threads,
    render,
    close: async () => {
      await Promise.allSettled(inFlight);
      await Promise.all(pool.map((t) => t.close()));
    },
  };
}
