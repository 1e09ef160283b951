import { type Socket, createConnection } from 'node:net';

/** A reply as RESP2 encodes it; an error reply is an Error in the list, never thrown for pipelines. */
export type RespValue = string | number | null | Error | RespValue[];

type Parsed = { value: RespValue; end: number } | undefined;

function parseAt(buffer: Buffer, start: number): Parsed {
  const lineEnd = buffer.indexOf('\r\n', start);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[start] as number);
  const line = buffer.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new Error(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseAt(buffer, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type byte "${type}"`);
  }
}

function encode(args: readonly (string | number)[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`;
}

/**
 * A minimal Redis client (RESP2, pipelined) for the benchmark's few reads: the CLI package does not
 * depend on ioredis or BullMQ, and the benchmark only needs HSET, ZCARD, HMGET and INFO.
 */
export class RespClient {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: { resolve: (value: RespValue) => void; reject: (error: Error) => void }[] = [];
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('the Redis connection closed')));
  }

  static connect(url: string): Promise<RespClient> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: hostname, port: Number(port || 6379) });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RespClient(socket));
      });
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let at = 0;
    for (let parsed = parseAt(this.buffer, at); parsed; parsed = parseAt(this.buffer, at)) {
      at = parsed.end;
      this.pending.shift()?.resolve(parsed.value);
    }
    this.buffer = this.buffer.subarray(at);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const p of this.pending.splice(0)) p.reject(error);
  }

  /** Sends every command in one write and resolves with the replies in order. */
  pipeline(commands: readonly (readonly (string | number)[])[]): Promise<RespValue[]> {
    if (this.failure) return Promise.reject(this.failure);
    const replies = commands.map(() => new Promise<RespValue>((resolve, reject) => this.pending.push({ resolve, reject })));
    this.socket.write(commands.map(encode).join(''));
    return Promise.all(replies);
  }

  async command(...args: (string | number)[]): Promise<RespValue> {
    const [reply] = await this.pipeline([args]);
    if (reply instanceof Error) throw new Error(`Redis ${String(args[0])}: ${reply.message}`);
    return reply ?? null;
  }

  /** Safe to call twice. */
  close(): void {
    this.failure ??= new Error('the Redis connection was closed');
    this.socket.destroy();
  }
}
