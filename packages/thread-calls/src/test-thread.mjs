// A thread for thread-calls.test.ts: answers `echo` at once and `wait` after `ms`; `crash` throws
// (ending the thread); `block` blocks the thread, as a system call that never returns would,
// until the test stores 1 in `flag`'s first Int32 and notifies it; `progress` answers after `ms`,
// saying it is moving every 50 ms meanwhile; `junk` posts messages that are neither (null, a
// number, a string, an object without an id), then answers.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', ({ id, request }) => {
  if (request.op === 'crash') throw new Error('asked to crash');
  const answer = () => parentPort.postMessage({ id, reply: { echoed: request.value } });
  if (request.op === 'block') Atomics.wait(new Int32Array(request.flag), 0, 0);
  if (request.op === 'junk') for (const junk of [null, 7, 'text', { reply: 1 }]) parentPort.postMessage(junk);
  if (request.op === 'progress') {
    const moving = setInterval(() => parentPort.postMessage({ progress: true }), 50);
    setTimeout(() => (clearInterval(moving), answer()), request.ms);
  } else if (request.op === 'wait') setTimeout(answer, request.ms);
  else answer();
});
