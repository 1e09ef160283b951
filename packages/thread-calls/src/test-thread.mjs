// A thread for thread-calls.test.ts: answers `echo` at once and `wait` after `ms`; `crash` throws
// (ending the thread).
import { parentPort } from 'node:worker_threads';

parentPort.on('message', ({ id, request }) => {
  if (request.op === 'crash') throw new Error('asked to crash');
  const answer = () => parentPort.postMessage({ id, reply: { echoed: request.value } });
  if (request.op === 'wait') setTimeout(answer, request.ms);
  else answer();
});
