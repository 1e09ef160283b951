import { parentPort } from 'node:worker_threads';
import type { RenderReply, RenderRequest } from './overlay-renderer.ts';
import { renderOverlay } from './render-overlay.ts';

// One render thread: blends and encodes whatever the pool sends, one message per overlay (the
// message protocol is @gradcam/thread-calls').
const port = parentPort;
if (!port) throw new Error('overlay-thread.ts runs as a worker thread of the overlay renderer');
port.on('message', ({ id, request }: { id: number; request: RenderRequest }) => {
  const answer = (reply: RenderReply) => port.postMessage({ id, reply });
  const fail = (error: unknown) => {
    const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
    const code = (error as { code?: unknown } | null)?.code;
    answer({ error: { name, message, ...(typeof code === 'string' && { code }) } });
  };
  // A request this thread cannot even read answers with its error: thrown here, it would end
  // the thread and fail every other caller's overlay in flight on it.
  try {
    const { width, height, format, data, map, mapWidth, mapHeight, spec, options } = request;
    const image = { width, height, format, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
    renderOverlay(image, map, mapWidth, mapHeight, spec, options).then((jpeg) => answer({ jpeg }), fail);
  } catch (error) {
    fail(error);
  }
});
